import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('.', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

it('imports no Node module outside src/node, so the devices and queues run in a browser', () => {
  const offenders = sources(root)
    .filter((path) => !relative(root, path).startsWith('node'))
    .filter((path) => /from ['"](node:|fs|net|dgram|crypto|os|path)['"/]/.test(readFileSync(path, 'utf8')))
    .map((path) => relative(root, path));
  expect(offenders).toEqual([]);
  expect(sources(root).length).toBeGreaterThan(20);
});
