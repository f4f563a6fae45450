/**
 * Test-file order for the whole-workspace run: the long guest boots first, longest first, so that the
 * two workers of a 2-core machine stay busy to the end (vitest's default puts unknown files in size
 * order on a clean clone, which could leave a one-minute guest boot to start last).
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Known long files, longest first (minutes on a 2-core machine); everything else follows. */
const LONG_FIRST = [
  'tests/boot/boots.test.ts',
  'tests/virtio/',
  'tests/boot/',
  'tests/web/',
  'tests/cpu-diff/',
];

function rank(spec: TestSpecification): number {
  const id = spec.moduleId.replaceAll('\\', '/');
  const i = LONG_FIRST.findIndex((p) => id.includes(`/${p}`));
  return i < 0 ? LONG_FIRST.length : i;
}

export default class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    return base
      .map((spec, order) => ({ spec, order, rank: rank(spec) }))
      .sort((a, b) => a.rank - b.rank || a.order - b.order)
      .map((e) => e.spec);
  }
}
