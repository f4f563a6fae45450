/**
 * The iced-x86 oracle (devDependency, MIT): loads the npm package and runs its decoder and Intel
 * formatter over a buffer. Used by the differential test, the diff command and the benchmark.
 */
import { createRequire } from 'node:module';

export type Iced = typeof import('iced-x86');
export const iced: Iced = createRequire(import.meta.url)('iced-x86') as Iced;

/** iced-x86 Code names in enum order. */
export function icedCodeName(code: number): string {
  return (iced.Code as unknown as Record<number, string>)[code] ?? `?${code}`;
}
