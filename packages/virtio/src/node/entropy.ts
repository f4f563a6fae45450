import { randomFillSync } from 'node:crypto';
import type { EntropySource } from '../devices/rng/device.js';

/** Host randomness from Node's CSPRNG (the `-object rng-random` / `rng-builtin` backend). */
export const nodeCryptoEntropy: EntropySource = {
  fill(dst) {
    randomFillSync(dst);
  },
};
