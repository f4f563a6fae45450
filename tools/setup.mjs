#!/usr/bin/env node
// Set-up that the README's two commands run first: installs the workspace with the pinned pnpm.
// Works on a machine with only Node.js 20 and npm: pnpm comes through npx the first time and is a
// devDependency from then on. Fast (about a second) when everything is already installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager; // "pnpm@x.y.z"
const localPnpm = join(root, 'node_modules', '.bin', 'pnpm');
const args = ['install', process.env.CI ? '--frozen-lockfile' : '--prefer-offline', '--reporter=append-only'];
const [cmd, cmdArgs] = existsSync(localPnpm) ? [localPnpm, args] : ['npx', ['--yes', pinned, ...args]];
const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
if (r.status !== 0) {
  process.stdout.write(r.stdout ?? '');
  console.error(`setup: '${[cmd, ...cmdArgs].join(' ')}' failed with status ${r.status}`);
  process.exit(1);
}
