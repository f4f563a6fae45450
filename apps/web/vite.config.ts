import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import {
  SEABIOS_COPYRIGHT_SOURCE,
  SEABIOS_SOURCE,
  SERVED_BIOS_COPYRIGHT_PATH,
  SERVED_BIOS_PATH,
  SERVED_VGA_ROM_PATH,
} from './src/firmware.js';

/** Guest RAM lives in a SharedArrayBuffer, which browsers only allow on cross-origin-isolated pages. */
export const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

/** The default guest (committed in tools/images/default-i386) and the path the page fetches it from. */
export const DEFAULT_GUEST_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../tools/images/default-i386',
);
export const DEFAULT_GUEST_PATH = 'default-guest';
export const DEFAULT_GUEST_FILES = ['bzImage', 'initrd.cpio.gz'] as const;

/**
 * Serves the default guest's files as they are at /default-guest/ in dev, and copies them there in
 * the build. (Vite would take an extension-less `bzImage` for a JavaScript module in dev.)
 */
function defaultGuest(): Plugin {
  return {
    name: 'typevisor-default-guest',
    configureServer(server) {
      server.middlewares.use(`/${DEFAULT_GUEST_PATH}`, (req, res, next) => {
        const name = (req.url ?? '').replace(/^\//, '').replace(/\?.*$/, '');
        if (!(DEFAULT_GUEST_FILES as readonly string[]).includes(name)) return next();
        const file = join(DEFAULT_GUEST_DIR, name);
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Content-Length', String(statSync(file).size));
        createReadStream(file).pipe(res);
      });
    },
    generateBundle() {
      for (const name of DEFAULT_GUEST_FILES) {
        this.emitFile({
          type: 'asset',
          fileName: `${DEFAULT_GUEST_PATH}/${name}`,
          source: readFileSync(join(DEFAULT_GUEST_DIR, name)),
        });
      }
    },
  };
}

/**
 * The SeaBIOS image to serve: Debian's (`apt-get install seabios`), or the file named by the
 * TYPEVISOR_SEABIOS environment variable (an empty value or a missing file: serve none).
 */
export function seabiosSource(env: NodeJS.ProcessEnv = process.env): string {
  return env.TYPEVISOR_SEABIOS ?? SEABIOS_SOURCE;
}

/** The files served under /seabios/ (URL path -> file on this machine), those that exist now. */
function seabiosFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const bios = seabiosSource();
  if (bios === '' || !existsSync(bios)) return files;
  files.set(`/${SERVED_BIOS_PATH}`, bios);
  // SeaBIOS's VGA BIOS from the same directory (the VM runs it for `-vga std`, as QEMU does).
  const vgaRom = join(dirname(bios), 'vgabios-stdvga.bin');
  if (existsSync(vgaRom)) files.set(`/${SERVED_VGA_ROM_PATH}`, vgaRom);
  // The licence travels with the binary: Debian's copyright file for the package (LGPL-3).
  if (bios === SEABIOS_SOURCE && existsSync(SEABIOS_COPYRIGHT_SOURCE))
    files.set(`/${SERVED_BIOS_COPYRIGHT_PATH}`, SEABIOS_COPYRIGHT_SOURCE);
  return files;
}

/**
 * Serves SeaBIOS (LGPL-3, not in the repository) at /seabios/ in dev, looked up on each request, and
 * copies it into the build when the build machine has it; without it the page asks for a BIOS file.
 */
function seabios(): Plugin {
  return {
    name: 'typevisor-seabios',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').replace(/\?.*$/, '');
        const file = seabiosFiles().get(path);
        if (file === undefined) return next();
        res.setHeader('Content-Type', path.endsWith('.bin') ? 'application/octet-stream' : 'text/plain');
        res.setHeader('Content-Length', String(statSync(file).size));
        createReadStream(file).pipe(res);
      });
    },
    generateBundle() {
      const files = seabiosFiles();
      if (files.size === 0)
        this.warn(
          `no SeaBIOS at ${seabiosSource() || '(TYPEVISOR_SEABIOS is empty)'}: the build serves no BIOS, so booting an ISO or disk needs the user's BIOS file (apt-get install seabios, then rebuild)`,
        );
      for (const [path, file] of files)
        this.emitFile({ type: 'asset', fileName: path.slice(1), source: readFileSync(file) });
    },
  };
}

export default defineConfig({
  resolve: { conditions: ['source', 'module', 'browser', 'import', 'default'] },
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  plugins: [defaultGuest(), seabios()],
  // The VM worker is an ES module worker.
  worker: { format: 'es' },
  // A dev server of its own per test (e2e/harness.ts): two dev servers optimizing dependencies into one
  // cache at once can make one of them reload its page in the middle of a test.
  ...(process.env.TYPEVISOR_VITE_CACHE_DIR ? { cacheDir: process.env.TYPEVISOR_VITE_CACHE_DIR } : {}),
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
});
