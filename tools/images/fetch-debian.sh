#!/usr/bin/env bash
# Fetches Debian 12's stock kernels and builds a busybox-static initramfs for each, with only
# `apt-get download` (no build): the images the boot tests and `pnpm bench:boot` compare against.
#   bash tools/images/fetch-debian.sh [i386|amd64 ...]      (default: i386)
# Output (not committed; about 10 MB each): tools/images/debian-<arch>/{vmlinuz,initrd.cpio.gz,kernel-package.txt}
# The initramfs carries ./init (the default guest's) and the kernel's virtio and ext4 modules in load order.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/typevisor-debian}
ARCHES=("$@")
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(i386)
for p in cpio gzip kmod; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
mkdir -p "$WORK"
chown -R _apt "$WORK" 2>/dev/null || true
MODULES="virtio_pci virtio_mmio virtio_blk virtio_net virtio_console virtio-rng ext4"

aptopts() { # arch -> apt options for that architecture's package lists
  if [ "$1" = i386 ]; then
    echo "-oAPT::Architecture=i386 -oAPT::Architectures=i386 -oDir::State::Lists=$WORK/i386lists -oDir::Cache::pkgcache= -oDir::Cache::srcpkgcache="
  fi
}

build() { # arch meta-package
  local arch=$1 meta=$2 dst="$HERE/debian-$1" opts
  read -r -a opts <<<"$(aptopts "$arch")"
  if [ "$arch" = i386 ]; then
    mkdir -p "$WORK/i386lists/partial"
    ls "$WORK/i386lists"/*_Packages* >/dev/null 2>&1 || apt-get "${opts[@]}" update -qq || true
  else
    apt-cache show "$meta" >/dev/null 2>&1 || apt-get update -qq || true
  fi
  local kpkg
  kpkg=$(apt-cache "${opts[@]}" depends "$meta" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  local debs="$WORK/debs-$arch"
  mkdir -p "$debs"
  chown _apt "$debs" 2>/dev/null || true
  (cd "$debs" && { ls "${kpkg}"_*.deb >/dev/null 2>&1 || apt-get "${opts[@]}" download "$kpkg"; } &&
    { ls busybox-static_*.deb >/dev/null 2>&1 || apt-get "${opts[@]}" download busybox-static; }) >&2
  local kx="$WORK/k-$arch" bx="$WORK/bb-$arch" root="$WORK/root-$arch"
  rm -rf "$kx" "$bx" "$root"
  dpkg-deb -x "$(ls "$debs/${kpkg}"_*.deb | head -1)" "$kx"
  dpkg-deb -x "$(ls "$debs"/busybox-static_*.deb | head -1)" "$bx"
  local ver
  ver=$(ls "$kx/lib/modules")
  depmod -b "$kx" "$ver"
  mkdir -p "$dst" "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc}
  cp "$kx/boot/vmlinuz-$ver" "$dst/vmlinuz"
  echo "$kpkg" >"$dst/kernel-package.txt"
  local order=() path rel
  for m in $MODULES; do
    while read -r _ path; do
      [[ " ${order[*]} " == *" $path "* ]] || order+=("$path")
    done < <(modprobe -d "$kx" -S "$ver" --show-depends "$m" 2>/dev/null | grep '^insmod ')
  done
  : >"$root/etc/modules.load"
  for path in "${order[@]}"; do
    rel=${path#"$kx"}
    mkdir -p "$root$(dirname "$rel")"
    cp "$path" "$root$rel"
    echo "$rel" >>"$root/etc/modules.load"
  done
  cp "$bx/bin/busybox" "$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  local applets
  applets=$("$root/bin/busybox" --list-full 2>/dev/null || busybox --list-full 2>/dev/null || true)
  for app in $applets; do [ "$app" = bin/busybox ] || [ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"; done
  # The default guest's init, plus loading the shipped modules first.
  { echo '#!/bin/sh'; echo 'for m in $(cat /etc/modules.load 2>/dev/null); do insmod "$m" 2>/dev/null; done'; tail -n +2 "$HERE/init"; } >"$root/init"
  chmod 755 "$root/init"
  mknod -m 600 "$root/dev/console" c 5 1
  mknod -m 666 "$root/dev/null" c 1 3
  mknod -m 666 "$root/dev/ttyS0" c 4 64
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
  find "$root" -exec touch -h -d @0 {} +
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet --reproducible) | gzip -9n >"$dst/initrd.cpio.gz"
  echo "[$arch] $kpkg: $(stat -c %s "$dst/vmlinuz") B kernel, $(stat -c %s "$dst/initrd.cpio.gz") B initramfs, ${#order[@]} modules"
}

for a in "${ARCHES[@]}"; do
  case "$a" in
    i386) build i386 linux-image-686 ;;
    amd64) build amd64 linux-image-amd64 ;;
    *) echo "unknown architecture $a (i386 or amd64)" >&2; exit 1 ;;
  esac
done
