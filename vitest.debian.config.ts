import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `pnpm test:debian`: Debian 12's stock i386 and amd64 kernels through the full stack
// (tests/boot/debian.test.ts), on their own. Fetch the images first with
// `bash tools/images/fetch-debian.sh i386 amd64`. Not part of the
// README's test command, which must pass with only Node.js (the image is a download); `.ci/run` runs it
// after that command (about 6-10 minutes on a 2-core machine).
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/boot/debian.test.ts'],
    exclude: ['**/node_modules/**'],
    sequence: {},
  },
});
