import { createReadStream, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

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

export default defineConfig({
  resolve: { conditions: ['source', 'module', 'browser', 'import', 'default'] },
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  plugins: [defaultGuest()],
  // The VM worker is an ES module worker.
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2048 },
});
