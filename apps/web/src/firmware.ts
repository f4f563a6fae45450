/**
 * The BIOS for booting a CD-ROM or disk image without a kernel. The page never emulates firmware: it
 * hands an image to the worker as `-bios`, and @typevisor/qemu loads it as the CLI does. The image is
 * the user's (the BIOS picker) or the SeaBIOS the page serves: vite.config.ts copies Debian's
 * `bios-256k.bin` (package `seabios`, LGPL-3) into the build when the build machine has it.
 */
import { type Progress, readWithProgress } from './progress.js';

/** Debian's SeaBIOS image: QEMU's (and the CLI's) `-bios` default for `pc`. */
export const SEABIOS_SOURCE = '/usr/share/seabios/bios-256k.bin';
/** Where the page serves it, relative to the page (dev server and production build alike). */
export const SERVED_BIOS_PATH = 'seabios/bios-256k.bin';
/** SeaBIOS's VGA BIOS for `-vga std` (same package), served beside the BIOS when the build machine has it. */
export const VGA_ROM_SOURCE = '/usr/share/seabios/vgabios-stdvga.bin';
export const SERVED_VGA_ROM_PATH = 'seabios/vgabios-stdvga.bin';
/** Debian's copyright file for the package, served beside the image. */
export const SEABIOS_COPYRIGHT_SOURCE = '/usr/share/doc/seabios/copyright';
export const SERVED_BIOS_COPYRIGHT_PATH = 'seabios/copyright';

/** What the page says when a boot needs a BIOS that nobody gave. */
export function missingBiosMessage(): string {
  return (
    'Booting a CD-ROM or disk image needs a BIOS, and this page does not serve one: SeaBIOS ' +
    `(bios-256k.bin) was not at ${SEABIOS_SOURCE} on the machine that built it. Choose a BIOS ` +
    'image with the BIOS picker (bios-256k.bin from a SeaBIOS or QEMU installation), or install ' +
    "Debian's seabios package (apt-get install seabios) and rebuild the app (the dev server serves " +
    'it as soon as it is installed).'
  );
}

/** The served BIOS is absent (a 404, or the single-page fallback answering index.html for any path). */
export class MissingBiosError extends Error {
  override readonly name = 'MissingBiosError';
  constructor() {
    super(missingBiosMessage());
  }
}

/** Whether an answer is the served file itself rather than a 404 or an HTML fallback page. */
export function isServedFile(res: Pick<Response, 'ok' | 'headers'>): boolean {
  return res.ok && !(res.headers.get('content-type') ?? '').startsWith('text/html');
}

/** Fetches the served SeaBIOS with progress; a MissingBiosError when the page has none. */
export async function fetchServedBios(
  url: string,
  name: string,
  onProgress: (p: Progress) => void,
  fetchImpl: (url: string) => Promise<Response> = (u) => fetch(u),
): Promise<Uint8Array> {
  const res = await fetchImpl(url);
  if (!isServedFile(res) || res.body === null) {
    await res.body?.cancel();
    throw new MissingBiosError();
  }
  const len = Number(res.headers.get('content-length'));
  return readWithProgress(res.body, name, Number.isFinite(len) && len > 0 ? len : undefined, onProgress);
}

/**
 * The VGA BIOS the page serves beside SeaBIOS, or undefined when it serves none: a firmware boot can do
 * without it (as QEMU, which only warns), the screen then stays blank while serial works.
 */
export async function fetchServedVgaRom(
  url: string,
  name: string,
  onProgress: (p: Progress) => void,
  fetchImpl: (url: string) => Promise<Response> = (u) => fetch(u),
): Promise<Uint8Array | undefined> {
  const res = await fetchImpl(url);
  if (!isServedFile(res) || res.body === null) {
    await res.body?.cancel();
    return undefined;
  }
  const len = Number(res.headers.get('content-length'));
  return readWithProgress(res.body, name, Number.isFinite(len) && len > 0 ? len : undefined, onProgress);
}
