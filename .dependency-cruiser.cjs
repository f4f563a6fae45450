/**
 * The dependency rule of the monorepo (ARCHITECTURE.md, "Layers"): no import cycles, no import that
 * points up the layer table, no reach into another package except through its public entry points.
 * `pnpm depcheck` runs it; tests/repo/depcheck.test.ts proves each rule fails on a bad tree.
 */
const layers = [
  ['leaves', ['memory', 'x86-decoder']],
  ['devices', ['devices', 'virtio']],
  ['hardware', ['mmu', 'x86-cpu', 'vmx']],
  ['facade', ['kvm']],
  ['frontend', ['qemu']],
];
const pkgPath = (names) => `^packages/(${names.join('|')})/`;
const above = (i) => layers.slice(i + 1).flatMap(([, names]) => names);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No runtime import cycle between modules (type-only imports are erased by the compiler and cannot make one).',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-circular-between-packages',
      severity: 'error',
      comment:
        'No cycle that leaves a package, not even through type-only imports: packages must be usable alone.',
      from: { path: '^packages/([^/]+)/' },
      to: { circular: true, viaSomeNot: '^packages/$1/' },
    },
    ...layers.slice(0, -1).map(([layer, names], i) => ({
      name: `no-upward-import-from-${layer}`,
      severity: 'error',
      comment: `The ${layer} layer may not import a higher layer (${above(i).join(', ')}) or an app.`,
      from: { path: pkgPath(names) },
      to: { path: [pkgPath(above(i)), '^apps/'] },
    })),
    {
      name: 'no-upward-import-from-frontend',
      severity: 'error',
      comment: 'Packages never import the apps.',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-deep-import',
      severity: 'error',
      comment:
        'Another package is reached only through its name and its exports map, never a path into its src/.',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: {
        path: '^packages/([^/]+)/',
        pathNot: ['^packages/$2/', '^packages/[^/]+/src/(index|testing/index|node/index)\\.ts$'],
      },
    },
    {
      name: 'no-relative-cross-package',
      severity: 'error',
      comment: 'A relative path into another package bypasses its package.json; import it by name.',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { dependencyTypes: ['local'], path: '^(packages|apps)/', pathNot: '^(packages|apps)/$2/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve (for example a deep import an exports map does not allow).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)dist/', '(^|/)node_modules/', '^tests/fixtures/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['source', 'import', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
    skipAnalysisNotInRules: true,
  },
};
