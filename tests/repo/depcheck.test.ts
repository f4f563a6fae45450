import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import { afterEach, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const config = require(join(root, '.dependency-cruiser.cjs')) as {
  forbidden: unknown[];
  options: Record<string, unknown>;
};

/** A throw-away workspace: files by path, and `@typevisor/<name>` links in node_modules. */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'depcheck-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  for (const name of ['memory', 'kvm', 'devices', 'virtio', 'mmu']) {
    const pkg = join(dir, 'packages', name);
    mkdirSync(join(pkg, 'src'), { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: `@typevisor/${name}`,
        type: 'module',
        exports: { '.': { source: './src/index.ts' } },
      }),
    );
    try {
      writeFileSync(
        join(pkg, 'src', 'index.ts'),
        files[`packages/${name}/src/index.ts`] ?? 'export const x = 1;\n',
        {
          flag: 'wx',
        },
      );
    } catch {}
    mkdirSync(join(dir, 'node_modules', '@typevisor'), { recursive: true });
    symlinkSync(pkg, join(dir, 'node_modules', '@typevisor', name));
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
  );
  return dir;
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

async function violations(files: Record<string, string>): Promise<string[]> {
  const dir = workspace(files);
  dirs.push(dir);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const result = await cruise(['packages'], {
      ...config.options,
      ruleSet: { forbidden: config.forbidden },
      validate: true,
    } as never);
    const output = result.output as { summary: { violations: { rule: { name: string } }[] } };
    return output.summary.violations.map((v) => v.rule.name).sort();
  } finally {
    process.chdir(cwd);
  }
}

describe('the dependency rule', () => {
  it('accepts a downward import by package name', async () => {
    expect(await violations({ 'packages/devices/src/index.ts': "import '@typevisor/memory';\n" })).toEqual(
      [],
    );
  });

  it('rejects an import that points up the layer table', async () => {
    expect(await violations({ 'packages/memory/src/index.ts': "import '@typevisor/kvm';\n" })).toContain(
      'no-upward-import-from-leaves',
    );
    expect(await violations({ 'packages/mmu/src/index.ts': "import '@typevisor/kvm';\n" })).toContain(
      'no-upward-import-from-hardware',
    );
  });

  it('rejects an import cycle', async () => {
    const v = await violations({
      'packages/memory/src/index.ts': "export * from './a.js';\n",
      'packages/memory/src/a.ts': "import { x } from './b.js';\nexport const a = x;\n",
      'packages/memory/src/b.ts': "import { a } from './a.js';\nexport const x = a;\n",
    });
    expect(v).toContain('no-circular');
  });

  it('accepts a type-only cycle inside a package (erased at compile time)', async () => {
    const v = await violations({
      'packages/memory/src/index.ts': "export { a } from './a.js';\n",
      'packages/memory/src/a.ts':
        "import type { B } from './b.js';\nexport const a = 1;\nexport type A = B;\n",
      'packages/memory/src/b.ts': "import { a } from './a.js';\nexport type B = typeof a;\n",
    });
    expect(v).toEqual([]);
  });

  it('rejects a cycle between packages even through type-only imports', async () => {
    const v = await violations({
      'packages/devices/src/index.ts': "import type { V } from '@typevisor/virtio';\nexport type D = V;\n",
      'packages/virtio/src/index.ts': "import type { D } from '@typevisor/devices';\nexport type V = D;\n",
    });
    expect(v).toContain('no-circular-between-packages');
  });

  it("rejects a relative import into another package's src/", async () => {
    const v = await violations({
      'packages/memory/src/inner.ts': 'export const y = 2;\n',
      'packages/devices/src/index.ts': "import '../../memory/src/inner.js';\n",
    });
    expect(v).toEqual(expect.arrayContaining(['no-deep-import', 'no-relative-cross-package']));
  });

  it('rejects a deep import by name that the exports map does not allow', async () => {
    const v = await violations({
      'packages/memory/src/inner.ts': 'export const y = 2;\n',
      'packages/devices/src/index.ts': "import '@typevisor/memory/src/inner.js';\n",
    });
    expect(v).toContain('not-to-unresolvable');
  });

  it('finds no violation in this repository', async () => {
    const result = await cruise(['packages', 'apps', 'tests', 'bench'], {
      ...config.options,
      ruleSet: { forbidden: config.forbidden },
      validate: true,
    } as never);
    const output = result.output as { summary: { violations: unknown[]; totalCruised: number } };
    expect(output.summary.totalCruised).toBeGreaterThan(10);
    expect(output.summary.violations).toEqual([]);
  });
});
