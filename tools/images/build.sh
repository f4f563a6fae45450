#!/usr/bin/env bash
# Builds Typevisor's default guest, reproducibly, from Debian packages only (ARCH=i386, the default, or
# ARCH=x86_64 for the 64-bit guest in default-x86_64/):
#   default-i386/bzImage        a small Linux 6.1 (Debian's linux-source-6.1, tinyconfig + kernel.fragment
#                               + kernel-<arch>.fragment)
#   default-i386/initrd.cpio.gz busybox-static (i386, or amd64 for x86_64) + ./init
#   default-i386/config         the kernel's .config
#   default-i386/SOURCES.txt    the exact package versions used
# The artifacts are committed, so `pnpm start` needs no download and no build. Rebuild with
#   bash tools/images/build.sh            (about 30-50 minutes on two cores; needs root for apt-get)
#   ARCH=x86_64 bash tools/images/build.sh
# Same inputs give the same bytes: fixed KBUILD_BUILD_* values, sorted cpio with fixed owners, gzip -n.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=${ARCH:-i386}
case "$ARCH" in
  i386) DEB_ARCH=i386 ;;
  x86_64) DEB_ARCH=amd64 ;;
  *) echo "build.sh: ARCH must be i386 or x86_64, not $ARCH" >&2; exit 1 ;;
esac
OUT=${OUT:-$HERE/default-$ARCH}
WORK=${WORK:-/tmp/typevisor-images}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$WORK" "$OUT"

need=(linux-source-6.1 build-essential bc bison flex libelf-dev libssl-dev cpio gzip kmod xz-utils lz4)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- busybox-static for the guest's architecture, fetched with apt-get download against its package lists ---
APTARCH=(-oAPT::Architecture="$DEB_ARCH" -oAPT::Architectures="$DEB_ARCH" -oDir::State::Lists="$WORK/${DEB_ARCH}lists"
  -oDir::Cache::pkgcache= -oDir::Cache::srcpkgcache=)
mkdir -p "$WORK/${DEB_ARCH}lists/partial" "$WORK/debs"
chown -R _apt "$WORK/debs" 2>/dev/null || true
ls "$WORK/${DEB_ARCH}lists"/*_Packages* >/dev/null 2>&1 || apt-get "${APTARCH[@]}" update -qq || true # a mirror mid-sync fails one list; the main one suffices
bbdeb=$(ls "$WORK/debs"/busybox-static_*_"$DEB_ARCH".deb 2>/dev/null | head -1 || true)
if [ -z "$bbdeb" ]; then
  (cd "$WORK/debs" && apt-get "${APTARCH[@]}" download busybox-static >&2)
  bbdeb=$(ls "$WORK/debs"/busybox-static_*_"$DEB_ARCH".deb | head -1)
fi

# --- kernel ---
SRC="$WORK/linux-source-6.1"
[ -f "$SRC/Makefile" ] || tar -C "$WORK" -xf /usr/src/linux-source-6.1.tar.xz
B="$WORK/build-$ARCH"
mkdir -p "$B"
export KBUILD_BUILD_TIMESTAMP='Sun Jan 1 00:00:00 UTC 2023' KBUILD_BUILD_USER=typevisor KBUILD_BUILD_HOST=typevisor KBUILD_BUILD_VERSION=1
mk=(make -C "$SRC" O="$B" ARCH="$ARCH")
"${mk[@]}" tinyconfig >/dev/null
opts=()
while IFS='=' read -r k v; do
  case "$k" in ''|'#'*) continue ;; esac
  if [ "$v" = y ]; then opts+=(--enable "$k"); else opts+=(--disable "$k"); fi
done < <(cat "$HERE/kernel.fragment" "$HERE/kernel-$ARCH.fragment")
for _ in 1 2; do # twice: some options appear only once their dependencies are on
  "$SRC/scripts/config" --file "$B/.config" "${opts[@]}"
  "${mk[@]}" olddefconfig >/dev/null
done
t0=$(date +%s)
"${mk[@]}" -j"$JOBS" bzImage >"$WORK/build-$ARCH.log" 2>&1 || { tail -40 "$WORK/build-$ARCH.log"; exit 1; }
t1=$(date +%s)
cp "$B/arch/x86/boot/bzImage" "$OUT/bzImage"
cp "$B/.config" "$OUT/config"

# --- initramfs ---
root="$WORK/root-$ARCH"
rm -rf "$root" "$WORK/bb"
dpkg-deb -x "$bbdeb" "$WORK/bb"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,etc/acpi,var/log,var/run}
cp "$WORK/bb/bin/busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
# The applet list, from the busybox binary (an i386 one may not run here: then the host's busybox).
applets=$("$root/bin/busybox" --list-full 2>/dev/null || true)
if [ -z "$applets" ]; then
  applets=$(busybox --list-full 2>/dev/null || true)
fi
if [ -z "$applets" ]; then
  apt-get install -y -qq busybox-static >/dev/null
  applets=$(busybox --list-full)
fi
for app in $applets; do [ "$app" = bin/busybox ] || [ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"; done
install -m 755 "$HERE/init" "$root/init"
# /init is a shell script, not an init daemon: nothing acts on the signal busybox's poweroff, reboot and
# halt send to PID 1 (and ash runs the applets before any /sbin file). The login shell's profile makes
# them act at once, as with -f, after a sync: `poweroff` at the prompt ends the VM (ACPI S5).
cat >"$root/etc/profile" <<'PROFILE'
poweroff() { sync; command poweroff -f "$@"; }
reboot() { sync; command reboot -f "$@"; }
halt() { sync; command halt -f "$@"; }
PROFILE
# The power button (the monitor's system_powerdown): /init starts busybox acpid, which maps KEY_POWER on
# /dev/input/event* to the event "button/power PWRF 00000080"; /etc/acpid.conf lines are "KEY ACTION",
# KEY a substring of that event, ACTION a file (run) or directory (run-parts) under /etc/acpi.
echo "PWRF poweroff" >"$root/etc/acpid.conf"
cat >"$root/etc/acpi/poweroff" <<'HANDLER'
#!/bin/sh
echo "acpid: power button pressed, powering off" >/dev/console
sync
exec poweroff -f
HANDLER
chmod 755 "$root/etc/acpi/poweroff"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 666 "$root/dev/ttyS0" c 4 64
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet --reproducible) | gzip -9n >"$OUT/initrd.cpio.gz"

{
  echo "linux-source-6.1 $(dpkg-query -W -f='${Version}' linux-source-6.1)"
  echo "busybox-static:$DEB_ARCH $(basename "$bbdeb" | cut -d_ -f2 | sed 's/%3a/:/')"
  echo "gcc $(gcc -dumpfullversion)"
  echo "build_seconds=$((t1 - t0)) jobs=$JOBS"
  echo "sha256 bzImage $(sha256sum "$OUT/bzImage" | cut -d' ' -f1)"
  echo "sha256 initrd.cpio.gz $(sha256sum "$OUT/initrd.cpio.gz" | cut -d' ' -f1)"
} >"$OUT/SOURCES.txt"
cat "$OUT/SOURCES.txt"
ls -l "$OUT"
