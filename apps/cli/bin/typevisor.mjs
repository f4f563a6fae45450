#!/usr/bin/env node
// Runs the CLI from its TypeScript sources (workspace packages through their `source` condition).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'main.ts');
const r = spawnSync(
  process.execPath,
  // 2 MiB semi-spaces: the VMM's threads allocate little, and V8's default young generation (up to
  // 16 MiB semi-spaces) is resident size for nothing (Debian 686 boot: 40 MiB less peak RSS).
  [
    '--max-semi-space-size=2',
    '--conditions=source',
    '--import',
    import.meta.resolve('tsx/esm'),
    main,
    ...process.argv.slice(2),
  ],
  {
    stdio: 'inherit',
  },
);
process.exitCode = r.status ?? 1;
