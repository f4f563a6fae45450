import { isUint, isUintArray, stateCheck } from '../errors.js';
import type { PciConfigSpaceState } from '../pci/config-space.js';
import type { IdeChannelState } from './channel.js';

export interface IdeControllerState {
  readonly channels: readonly [IdeChannelState, IdeChannelState];
  readonly config: PciConfigSpaceState;
}

const MAX_BUF = 0x1_0000;

export function validateIdeChannelState(s: IdeChannelState): void {
  const t = s.transfer;
  stateCheck(
    isUintArray(s.taskFile, 0xff, 5) &&
      s.taskFile.length === 5 &&
      isUintArray(s.hob, 0xff, 5) &&
      s.hob.length === 5 &&
      isUint(s.select, 0xff) &&
      isUint(s.control, 0xff) &&
      isUintArray(s.status, 0xff, 2) &&
      s.status.length === 2 &&
      isUintArray(s.error, 0xff, 2) &&
      s.error.length === 2 &&
      isUintArray(s.multiple, 16, 2) &&
      Array.isArray(s.sense) &&
      s.sense.length === 2 &&
      s.sense.every((p) => Array.isArray(p) && p.length === 2 && isUint(p[0], 0xf) && isUint(p[1], 0xff)) &&
      typeof s.intrq === 'boolean' &&
      ['none', 'in', 'out', 'packet'].includes(t.kind) &&
      (t.drive === 0 || t.drive === 1) &&
      typeof t.atapi === 'boolean' &&
      typeof t.dma === 'boolean' &&
      (t.bytes === null || isUintArray(t.bytes, 0xff, MAX_BUF)) &&
      isUint(t.bytesPos, MAX_BUF) &&
      isUint(t.diskOffset, Number.MAX_SAFE_INTEGER) &&
      isUint(t.remaining, Number.MAX_SAFE_INTEGER) &&
      isUint(t.blockBytes, MAX_BUF) &&
      isUintArray(t.buf, 0xff, MAX_BUF) &&
      isUint(t.pos, MAX_BUF) &&
      isUint(s.bmCommand, 0x09) &&
      isUint(s.bmStatus, 0x67) &&
      isUint(s.bmPrd, 0xffff_fffc),
    'malformed IDE channel state',
  );
}
