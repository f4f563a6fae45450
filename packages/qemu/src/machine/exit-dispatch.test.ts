import type { VcpuExit } from '@typevisor/kvm';
import { MmioBus, PioBus } from '@typevisor/memory';
import { ScratchDevice } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { handleExit } from './exit-dispatch.js';

function targets() {
  const pio = new PioBus();
  const mmio = new MmioBus();
  const port = new ScratchDevice(8);
  const reg = new ScratchDevice(16, 4);
  pio.insert(0x3f8, 8, port, 'com1');
  mmio.insert(0xfeb00000, 16, reg, 'regs');
  return { pio, mmio, port, reg };
}

describe('handleExit', () => {
  it('sends an OUT to the port bus and continues', () => {
    const t = targets();
    const data = Uint8Array.of(0x41);
    expect(handleExit({ kind: 'IoOut', port: 0x3f8, size: 1, count: 1, data }, t)).toEqual({
      kind: 'continue',
    });
    expect(t.port.accesses).toEqual([{ write: true, offset: 0, size: 1, value: 0x41 }]);
  });

  it('fills the kvm_run data of an IN, so it completes on the next KVM_RUN', () => {
    const t = targets();
    t.port.bytes.set([0x11, 0x22], 4);
    const data = new Uint8Array(2);
    handleExit({ kind: 'IoIn', port: 0x3fc, size: 2, count: 1, data }, t);
    expect([...data]).toEqual([0x11, 0x22]);
  });

  it('handles string I/O item by item (REP OUTSB with count 3)', () => {
    const t = targets();
    handleExit({ kind: 'IoOut', port: 0x3f8, size: 1, count: 3, data: Uint8Array.of(1, 2, 3) }, t);
    expect(t.port.accesses.map((a) => a.value)).toEqual([1, 2, 3]);
  });

  it('reads all-ones from a port where no device is', () => {
    const t = targets();
    const data = new Uint8Array(4);
    handleExit({ kind: 'IoIn', port: 0x80, size: 4, count: 1, data }, t);
    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('splits an 8-byte MMIO write into two 4-byte accesses, low half first', () => {
    const t = targets();
    const data = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    handleExit({ kind: 'MmioWrite', addr: 0xfeb00000, data }, t);
    expect(t.reg.accesses.map((a) => [a.offset, a.size, a.value])).toEqual([
      [0, 4, 0x04030201],
      [4, 4, 0x08070605],
    ]);
    const back = new Uint8Array(8);
    handleExit({ kind: 'MmioRead', addr: 0xfeb00000, data: back }, t);
    expect([...back]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('maps the exits that end or pause the run to actions', () => {
    const t = targets();
    const cases: [VcpuExit, string][] = [
      [{ kind: 'Hlt' }, 'wait-for-interrupt'],
      [{ kind: 'IrqWindowOpen' }, 'inject'],
      [{ kind: 'Shutdown' }, 'reset'],
      [{ kind: 'SystemEvent', type: 1, data: [] }, 'shutdown'],
      [{ kind: 'SystemEvent', type: 2, data: [] }, 'reset'],
      [{ kind: 'FailEntry', hardwareEntryFailureReason: 33n, cpu: 0 }, 'error'],
      [{ kind: 'InternalError', suberror: 1, data: [] }, 'error'],
      [{ kind: 'Unsupported', exitReason: 99 }, 'error'],
    ];
    for (const [exit, action] of cases) expect(handleExit(exit, t).kind).toBe(action);
  });

  it('names the failure in an error action', () => {
    const a = handleExit({ kind: 'FailEntry', hardwareEntryFailureReason: 0x21n, cpu: 0 }, targets());
    expect(a).toEqual({ kind: 'error', message: 'KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x21' });
  });
});
