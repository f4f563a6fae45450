import { isUint, isUintArray, stateCheck } from '../errors.js';

/** Plain-data snapshot of a local APIC. */
export interface LocalApicState {
  /** APIC ID (8 bits used in xAPIC mode, 32 in x2APIC mode). */
  readonly id: number;
  /** IA32_APIC_BASE as a decimal string. */
  readonly apicBase: string;
  readonly tpr: number;
  readonly ldr: number;
  readonly dfr: number;
  readonly svr: number;
  readonly isr: readonly number[];
  readonly tmr: readonly number[];
  readonly irr: readonly number[];
  /** ESR as last latched by a write, and errors collected since. */
  readonly esr: number;
  readonly esrPending: number;
  readonly icrLow: number;
  readonly icrHigh: number;
  /** Timer, thermal, perf, LINT0, LINT1, error. */
  readonly lvt: readonly number[];
  readonly timerInitial: number;
  readonly timerDivide: number;
  readonly timerStartNs: number;
  readonly timerCountAtStart: number;
  readonly timerNextNs: number;
  /** IA32_TSC_DEADLINE as a decimal string. */
  readonly tscDeadline: string;
  /** LINT0/LINT1 input levels, bit 0 / bit 1. */
  readonly lint: number;
  readonly extIntRequested: boolean;
  readonly nmiPending: boolean;
  readonly initPending: boolean;
  readonly sipiVector: number;
}

const isU64 = (v: unknown): v is string =>
  typeof v === 'string' && /^[0-9]{1,20}$/.test(v) && BigInt(v) < 1n << 64n;

export function validateLapicState(s: LocalApicState): void {
  const words = (a: unknown) => isUintArray(a, 0xffff_ffff, 8) && (a as number[]).length === 8;
  stateCheck(
    isUint(s.id, 0xffff_ffff) &&
      isU64(s.apicBase) &&
      isUint(s.tpr, 0xff) &&
      isUint(s.ldr, 0xffff_ffff) &&
      isUint(s.dfr, 0xffff_ffff) &&
      isUint(s.svr, 0xffff_ffff) &&
      words(s.isr) &&
      words(s.tmr) &&
      words(s.irr) &&
      isUint(s.esr, 0xff) &&
      isUint(s.esrPending, 0xff) &&
      isUint(s.icrLow, 0xffff_ffff) &&
      isUint(s.icrHigh, 0xffff_ffff) &&
      isUintArray(s.lvt, 0xffff_ffff, 6) &&
      s.lvt.length === 6 &&
      isUint(s.timerInitial, 0xffff_ffff) &&
      isUint(s.timerDivide, 0xf) &&
      isUint(s.timerStartNs, Number.MAX_SAFE_INTEGER) &&
      isUint(s.timerCountAtStart, 0xffff_ffff) &&
      Number.isSafeInteger(s.timerNextNs) &&
      s.timerNextNs >= -1 &&
      isU64(s.tscDeadline) &&
      isUint(s.lint, 3) &&
      [s.extIntRequested, s.nmiPending, s.initPending].every((b) => typeof b === 'boolean') &&
      Number.isInteger(s.sipiVector) &&
      s.sipiVector >= -1 &&
      s.sipiVector <= 0xff,
    'malformed local APIC state',
  );
}
