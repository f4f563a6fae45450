import { expect } from 'vitest';

/**
 * The x86-64 guests' bench=1 answers (busybox `uname -m`, awk, sha256sum), exact on any CPU model:
 * `context` is shown with a failure.
 */
export function expectBench64Answers(out: string, context?: string): void {
  expect(out, context).toContain('BENCH machine: x86_64');
  expect(out, context).toContain('BENCH awk: 2666866670000 10.480728');
  expect(out, context).toContain(
    'BENCH sha256: bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8  -',
  );
}
