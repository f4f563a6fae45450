import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `pnpm test:debian`: Debian 12's stock i386 kernel through the full stack (tests/boot/debian.test.ts),
// on its own. Fetch the image first with `bash tools/images/fetch-debian.sh i386`. Not part of the
// README's test command, which must pass with only Node.js (the image is a download); `.ci/run` runs it
// after that command (4-7 minutes on a 2-core machine).
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/boot/debian.test.ts'],
    exclude: ['**/node_modules/**'],
    sequence: {},
  },
});
