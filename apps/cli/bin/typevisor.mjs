#!/usr/bin/env node
// Runs the CLI from its TypeScript sources (workspace packages through their `source` condition).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'main.ts');
const r = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', import.meta.resolve('tsx/esm'), main, ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
process.exitCode = r.status ?? 1;
