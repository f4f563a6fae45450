/**
 * kvmclock: KVM's paravirtual clock (Documentation/virt/kvm/x86/msr.rst and cpuid.rst). The guest finds
 * KVM through CPUID 40000000H ("KVMKVMKVM") and its features in 40000001H:EAX, writes the guest-physical
 * address of a `pvclock_vcpu_time_info` to MSR_KVM_SYSTEM_TIME_NEW (bit 0 enables it) and of a
 * `pvclock_wall_clock` to MSR_KVM_WALL_CLOCK_NEW, and from then on computes the time from its own TSC:
 *
 *   ns = system_time + (((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32
 *
 * with no VM exit per clock read. The kernel fills the structure under a version count (odd while it
 * writes, as the ABI says) when the MSR is written and whenever the kvmclock/TSC relation changes
 * (KVM_SET_CLOCK, a TSC write), the KVM_REQ_CLOCK_UPDATE cases. Here the guest TSC runs at a constant
 * rate from the same host clock as kvmclock, so one update stays exact: PVCLOCK_TSC_STABLE_BIT is set.
 * A Linux guest then runs its clocksource on kvm-clock (or the TSC, which the clocksource watchdog checks
 * against kvm-clock instead of the PIT's jiffies, so a slow guest no longer gets it marked unstable).
 */
import type { Memslots } from '../memslots.js';

export const MSR_KVM_WALL_CLOCK = 0x11;
export const MSR_KVM_SYSTEM_TIME = 0x12;
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b56_4d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;
/** The kvmclock MSRs, as KVM_GET_MSR_INDEX_LIST lists them (emulated_msrs). */
export const KVMCLOCK_MSRS: readonly number[] = [
  MSR_KVM_SYSTEM_TIME,
  MSR_KVM_WALL_CLOCK,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
];

export const KVM_CPUID_SIGNATURE = 0x4000_0000;
export const KVM_CPUID_FEATURES = 0x4000_0001;

/** CPUID 40000001H:EAX bits (KVM_FEATURE_*) the facade implements. */
export const KvmFeature = {
  CLOCKSOURCE: 1 << 0,
  NOP_IO_DELAY: 1 << 1,
  CLOCKSOURCE2: 1 << 3,
  CLOCKSOURCE_STABLE_BIT: 1 << 24,
} as const;

/** "KVMKVMKVM\0\0\0" in EBX, ECX, EDX. */
export const KVM_SIGNATURE = { ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x0000_004d } as const;

/** pvclock_vcpu_time_info.flags: the TSC is synchronized and constant-rate (no per-CPU fixup needed). */
export const PVCLOCK_TSC_STABLE_BIT = 1;
/** sizeof(struct pvclock_vcpu_time_info). */
export const PVCLOCK_INFO_SIZE = 32;
/** sizeof(struct pvclock_wall_clock). */
export const PVCLOCK_WALL_SIZE = 12;

/** What `tsc_to_system_mul` and `tsc_shift` encode: ns per TSC tick as a 32.32 fraction and a shift. */
export interface TimeScale {
  readonly mul: number;
  readonly shift: number;
}

const U32 = 0xffff_ffffn;

/**
 * kvm_get_time_scale(): the multiplier and shift that turn `baseHz` ticks into `scaledHz` units (here
 * ns): mul = 2^32 * scaled / (base scaled by 2^shift), with base normalised into 32 bits.
 */
export function timeScale(scaledHz: number, baseHz: number): TimeScale {
  let scaled = BigInt(scaledHz);
  let tps64 = BigInt(baseHz);
  let shift = 0;
  while (tps64 > scaled * 2n || (tps64 & ~U32) !== 0n) {
    tps64 >>= 1n;
    shift--;
  }
  let tps32 = tps64 & U32;
  while (tps32 <= scaled || (scaled & ~U32) !== 0n) {
    if ((scaled & ~U32) !== 0n || (tps32 & 0x8000_0000n) !== 0n) scaled >>= 1n;
    else tps32 <<= 1n;
    shift++;
  }
  return { mul: Number((scaled << 32n) / tps32), shift };
}

/** What the guest computes from a time-info record at TSC `tsc` (pvclock_scale_delta). */
export function pvclockNs(systemTime: bigint, tscTimestamp: bigint, scale: TimeScale, tsc: bigint): bigint {
  let delta = tsc - tscTimestamp;
  delta = scale.shift < 0 ? delta >> BigInt(-scale.shift) : delta << BigInt(scale.shift);
  return systemTime + ((delta * BigInt(scale.mul)) >> 32n);
}

/**
 * `length` bytes of guest RAM at `gpa` inside one writable memslot (marked dirty for KVM_GET_DIRTY_LOG),
 * or null: the record is not in RAM, and like KVM (a failed gfn_to_pfn_cache) the kernel then writes
 * nothing.
 */
function guestRecord(memslots: Pick<Memslots, 'all'>, gpa: number, length: number): DataView | null {
  for (const s of memslots.all()) {
    if (s.region === null || s.flags & KVM_MEM_READONLY) continue;
    if (gpa < s.gpa || gpa + length > s.gpa + s.size) continue;
    const offset = gpa - s.gpa;
    s.dirty?.markRange(offset, length);
    const bytes = s.region.bytes;
    return new DataView(bytes.buffer, bytes.byteOffset + offset, length);
  }
  return null;
}
const KVM_MEM_READONLY = 2;

/**
 * kvm_setup_guest_pvclock(): the version goes odd, the record is written, the version goes even again.
 * Returns false when the address is not guest RAM.
 */
export function writePvclock(
  memslots: Pick<Memslots, 'all'>,
  gpa: number,
  tscTimestamp: bigint,
  systemTime: bigint,
  scale: TimeScale,
  flags: number,
): boolean {
  const v = guestRecord(memslots, gpa, PVCLOCK_INFO_SIZE);
  if (v === null) return false;
  const version = (v.getUint32(0, true) + 1) | 1;
  v.setUint32(0, version >>> 0, true);
  v.setBigUint64(8, BigInt.asUintN(64, tscTimestamp), true);
  v.setBigUint64(16, BigInt.asUintN(64, systemTime), true);
  v.setUint32(24, scale.mul >>> 0, true);
  v.setInt8(28, scale.shift);
  v.setUint8(29, flags);
  v.setUint16(30, 0, true);
  v.setUint32(0, (version + 1) >>> 0, true);
  return true;
}

/**
 * kvm_write_wall_clock(): the wall-clock time at which kvmclock read 0 (boot), as seconds and ns, under
 * the same odd/even version protocol. `realtimeNs` and `kvmclockNs` are read at the same instant.
 */
export function writeWallClock(
  memslots: Pick<Memslots, 'all'>,
  gpa: number,
  realtimeNs: bigint,
  kvmclockNs: bigint,
): boolean {
  const v = guestRecord(memslots, gpa, PVCLOCK_WALL_SIZE);
  if (v === null) return false;
  const boot = realtimeNs - kvmclockNs;
  const version = (v.getUint32(0, true) + 1) | 1;
  v.setUint32(0, version >>> 0, true);
  v.setUint32(4, Number(BigInt.asUintN(32, boot / 1_000_000_000n)), true);
  v.setUint32(8, Number(boot % 1_000_000_000n), true);
  v.setUint32(0, (version + 1) >>> 0, true);
  return true;
}

/**
 * One vCPU's kvmclock: the MSR_KVM_SYSTEM_TIME value and whether its time-info record needs a rewrite
 * (KVM_REQ_CLOCK_UPDATE), which the next VM entry does.
 */
export class KvmClockVcpu {
  /** MSR_KVM_SYSTEM_TIME(_NEW) as last written (both MSRs name this one value, as in KVM): low half. */
  lo = 0;
  /** ... and high half. Bit 0 of `lo` enables the record; the rest is its guest-physical address. */
  hi = 0;
  private pending = false;
  private seenGeneration = 0;

  get enabled(): boolean {
    return (this.lo & 1) === 1;
  }

  /** The record's guest-physical address (beyond 2^53 it matches no memslot either way). */
  get gpa(): number {
    return this.hi * 2 ** 32 + ((this.lo & ~1) >>> 0);
  }

  /** KVM_REQ_CLOCK_UPDATE: rewrite the record before the next entry. */
  requestUpdate(): void {
    this.pending = true;
  }

  /** Whether an update is due: requested, or the VM's kvmclock moved (KVM_SET_CLOCK) since the last one. */
  due(vmGeneration: number): boolean {
    return this.enabled && (this.pending || this.seenGeneration !== vmGeneration);
  }

  /** Marks the record written for the VM's clock generation `vmGeneration`. */
  updated(vmGeneration: number): void {
    this.pending = false;
    this.seenGeneration = vmGeneration;
  }
}
