import { errnoName } from './uapi/errno.js';

/** A system call of the typed face failed; `errno` is the positive Linux errno. */
export class KvmError extends Error {
  override readonly name = 'KvmError';
  constructor(
    readonly errno: number,
    readonly call: string,
  ) {
    super(`${call} failed: ${errnoName(errno)} (${errno})`);
  }
}

/** Returns `result` if it is not a negative errno, else throws {@link KvmError}. */
export function check(result: number, call: string): number {
  if (result < 0) throw new KvmError(-result, call);
  return result;
}
