import { GuestMemory } from '@typevisor/memory';
import { beforeEach, describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { VmcsField as F } from './fields.js';
import {
  MAX_MSR_LIST,
  type MsrPort,
  loadEntryMsrs,
  loadExitMsrs,
  loadMsrArea,
  storeExitMsrs,
  storeMsrArea,
} from './msr-areas.js';
import { Vmcs } from './vmcs.js';

/** MSRs as a map; writes to 0x1234 #GP. */
class FakeMsrs implements MsrPort {
  readonly values = new Map<number, [number, number]>([[0x174, [0x10, 0]]]);
  rdmsr(index: number, out: Uint32Array): boolean {
    const v = this.values.get(index);
    if (v === undefined) return false;
    out[0] = v[0];
    out[1] = v[1];
    return true;
  }
  wrmsr(index: number, lo: number, hi: number): boolean {
    if (index === 0x1234) return false;
    this.values.set(index, [lo, hi]);
    return true;
  }
}

const AREA = 0x3000;
let mem: GuestMemory;
let msrs: FakeMsrs;

function entry(i: number, index: number, lo = 0, hi = 0, reserved = 0): void {
  mem.write32(AREA + i * 16, index);
  mem.write32(AREA + i * 16 + 4, reserved);
  mem.write64(AREA + i * 16 + 8, lo, hi);
}

beforeEach(() => {
  mem = GuestMemory.create(0x10_0000);
  msrs = new FakeMsrs();
});

describe('loadMsrArea', () => {
  it('writes every entry in order', () => {
    entry(0, 0xc000_0080, 0x501);
    entry(1, 0x277, 0x0007_0406, 0x0007_0406);
    expect(loadMsrArea(mem, AREA, 2, msrs)).toBe(0);
    expect(msrs.values.get(0xc000_0080)).toEqual([0x501, 0]);
    expect(msrs.values.get(0x277)).toEqual([0x0007_0406, 0x0007_0406]);
  });

  it('fails at the first bad entry (1-based), keeping the ones before it', () => {
    entry(0, 0x10, 5);
    entry(1, 0xc000_0100, 0); // IA32_FS_BASE
    expect(loadMsrArea(mem, AREA, 2, msrs)).toBe(2);
    expect(msrs.values.get(0x10)).toEqual([5, 0]);
    for (const [index, reserved] of [
      [0xc000_0101, 0],
      [0x808, 0], // x2APIC TPR
      [0x9b, 0], // IA32_SMM_MONITOR_CTL
      [0x1234, 0], // WRMSR would #GP
      [0x10, 1], // reserved bits 63:32
    ] as const) {
      entry(0, index, 0, 0, reserved);
      expect(loadMsrArea(mem, AREA, 1, msrs)).toBe(1);
    }
  });

  it('fails past 512 entries', () => {
    for (let i = 0; i <= MAX_MSR_LIST; i++) entry(i, 0x10, i);
    expect(loadMsrArea(mem, AREA, MAX_MSR_LIST + 1, msrs)).toBe(MAX_MSR_LIST + 1);
  });
});

describe('storeMsrArea', () => {
  it('stores each MSR value into the data half of its entry', () => {
    entry(0, 0x174, 0xdead, 0xbeef);
    expect(storeMsrArea(mem, AREA, 1, msrs)).toBe(0);
    expect([mem.read32(AREA + 8), mem.read32(AREA + 12)]).toEqual([0x10, 0]);
  });

  it('fails for IA32_SMBASE, x2APIC MSRs and MSRs RDMSR would #GP on', () => {
    for (const index of [0x9e, 0x830, 0x4000_0000]) {
      entry(0, index);
      expect(storeMsrArea(mem, AREA, 1, msrs)).toBe(1);
    }
  });
});

describe('the VMCS-driven areas', () => {
  it('loads entry MSRs from the VM-entry MSR-load address and count', () => {
    const v = new Vmcs(createVmxCapabilities());
    entry(0, 0x10, 1);
    entry(1, 0xc000_0100, 0);
    v.write64(F.EntryMsrLoadAddress, AREA, 0);
    v.write32(F.EntryMsrLoadCount, 1);
    expect(loadEntryMsrs(v, mem, msrs)).toBe(0);
    v.write32(F.EntryMsrLoadCount, 2);
    expect(loadEntryMsrs(v, mem, msrs)).toBe(2);
  });

  it('stores guest MSRs into the VM-exit MSR-store area and loads host MSRs from the load area', () => {
    const v = new Vmcs(createVmxCapabilities());
    entry(0, 0x174);
    entry(1, 0x174, 0x20);
    v.write64(F.ExitMsrStoreAddress, AREA, 0);
    v.write32(F.ExitMsrStoreCount, 1);
    v.write64(F.ExitMsrLoadAddress, AREA + 16, 0);
    v.write32(F.ExitMsrLoadCount, 1);
    expect(storeExitMsrs(v, mem, msrs)).toBe(0);
    expect(mem.read32(AREA + 8)).toBe(0x10);
    expect(loadExitMsrs(v, mem, msrs)).toBe(0);
    expect(msrs.values.get(0x174)).toEqual([0x20, 0]);
    entry(1, 0x1234);
    expect(loadExitMsrs(v, mem, msrs)).toBe(1);
    entry(0, 0x9e);
    expect(storeExitMsrs(v, mem, msrs)).toBe(1);
  });
});
