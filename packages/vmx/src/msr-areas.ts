/**
 * The VM-entry MSR-load area (SDM Vol. 3C 27.4), the VM-exit MSR-store area (28.4) and the VM-exit
 * MSR-load area (28.6). Each area is a table of 16-byte entries in guest-physical memory (25.7.2,
 * Table 25-15): bits 31:0 MSR index, 63:32 reserved (0), 127:64 MSR data.
 *
 * A failed entry load is a VM-entry failure with exit reason 34 and the 1-based number of the failing
 * entry as exit qualification; a failed exit store or load is a VMX abort (indicator 1 or 4).
 */
import { VmcsField as F } from './fields.js';
import type { PhysicalMemory, Vmcs } from './vmcs.js';

/** The CPU's MSR access, as RDMSR/WRMSR would do it; false where the instruction would #GP. */
export interface MsrPort {
  rdmsr(index: number, out: Uint32Array): boolean;
  wrmsr(index: number, lo: number, hi: number): boolean;
}

/** Entries beyond this many (512 * (IA32_VMX_MISC[27:25] + 1)) fail. */
export const MAX_MSR_LIST = 512;

const IA32_FS_BASE = 0xc000_0100;
const IA32_GS_BASE = 0xc000_0101;
const IA32_SMM_MONITOR_CTL = 0x9b;
const IA32_SMBASE = 0x9e;

/** x2APIC MSRs (800H-8FFH) may not be loaded or stored through these areas. */
const isX2apic = (index: number): boolean => index >>> 8 === 0x8;

const scratch = new Uint32Array(2);

/**
 * Loads the MSRs of the area at `address` with `count` entries (27.4 on entry, 28.6 on exit).
 * Returns 0 when all loaded, else the 1-based number of the first entry that failed; entries before
 * it stay loaded, as on hardware.
 */
export function loadMsrArea(memory: PhysicalMemory, address: number, count: number, msrs: MsrPort): number {
  for (let i = 0; i < count; i++) {
    if (i >= MAX_MSR_LIST) return i + 1;
    const at = address + i * 16;
    const index = memory.read32(at) >>> 0;
    const reserved = memory.read32(at + 4);
    const lo = memory.read32(at + 8) >>> 0;
    const hi = memory.read32(at + 12) >>> 0;
    if (reserved !== 0 || index === IA32_FS_BASE || index === IA32_GS_BASE) return i + 1;
    if (isX2apic(index) || index === IA32_SMM_MONITOR_CTL) return i + 1;
    if (!msrs.wrmsr(index, lo, hi)) return i + 1;
  }
  return 0;
}

/**
 * Stores the MSRs named by the area at `address` (28.4). Returns 0, or the 1-based number of the
 * first entry that could not be stored.
 */
export function storeMsrArea(memory: PhysicalMemory, address: number, count: number, msrs: MsrPort): number {
  for (let i = 0; i < count; i++) {
    if (i >= MAX_MSR_LIST) return i + 1;
    const at = address + i * 16;
    const index = memory.read32(at) >>> 0;
    if (memory.read32(at + 4) !== 0 || isX2apic(index) || index === IA32_SMBASE) return i + 1;
    if (!msrs.rdmsr(index, scratch)) return i + 1;
    memory.write32(at + 8, scratch[0]!);
    memory.write32(at + 12, scratch[1]!);
  }
  return 0;
}

const address = (vmcs: Vmcs, field: number): number =>
  vmcs.readHi(field) * 0x1_0000_0000 + vmcs.readLo(field);

/** VM entry (27.4): 0, or the exit qualification of a VM-entry failure with reason 34. */
export function loadEntryMsrs(vmcs: Vmcs, memory: PhysicalMemory, msrs: MsrPort): number {
  return loadMsrArea(memory, address(vmcs, F.EntryMsrLoadAddress), vmcs.read32(F.EntryMsrLoadCount), msrs);
}

/** VM exit (28.4), before host state is loaded: 0, or the failing entry (a VMX abort with indicator 1). */
export function storeExitMsrs(vmcs: Vmcs, memory: PhysicalMemory, msrs: MsrPort): number {
  return storeMsrArea(memory, address(vmcs, F.ExitMsrStoreAddress), vmcs.read32(F.ExitMsrStoreCount), msrs);
}

/** VM exit (28.6), after host state is loaded: 0, or the failing entry (a VMX abort with indicator 4). */
export function loadExitMsrs(vmcs: Vmcs, memory: PhysicalMemory, msrs: MsrPort): number {
  return loadMsrArea(memory, address(vmcs, F.ExitMsrLoadAddress), vmcs.read32(F.ExitMsrLoadCount), msrs);
}
