/**
 * The CPU: a composition of small state parts (registers, flags, segment caches, control state, MSRs,
 * physical memory, interrupt lines, block cache) and the interpreter loop. Instruction semantics live in
 * `handlers/*.ts`, mode-dependent machinery in `interrupts.ts`, `segment-load.ts`, `far.ts`, `task.ts`.
 */
import type { GuestMemory } from '@typevisor/memory';
import { Mmu } from '@typevisor/mmu';
import type { Instruction } from '@typevisor/x86-decoder';
import { type Block, BlockCache } from './block-cache.js';
import { type CpuModel, featureTable, PENTIUM_II } from './cpu-model.js';
import { CR0, ControlState, Mode } from './control.js';
import { Breakpoints, DR6, DR7, dr6After } from './debug-registers.js';
import { FAULT, type FaultSignal, INTERCEPTED, Vector } from './exceptions.js';
import { CpuExit } from './exit.js';
import { EFLAGS, FlagState, materialize, readFlags, writeFlags } from './flags.js';
import { type CpuHooks, CpuidResult, INTERCEPT, MsrValue, NullHooks } from './hooks.js';
import { deliverEvent, EventKind } from './interrupts.js';
import { Efer, Msr, MsrFile } from './msr.js';
import { Pager } from './paging.js';
import { nextEip, OPS_STRIDE, Rec } from './operand-record.js';
import { PhysicalMemory } from './physical.js';
import { RegisterFile, Seg } from './registers.js';
import { X87 } from './x87/index.js';
import { Attr, REAL_MODE_CODE_ATTR, REAL_MODE_DATA_ATTR, SegmentCaches } from './segments.js';

export { CpuExit } from './exit.js';

/** Something that can answer an interrupt acknowledge (a PIC or a LAPIC). */
export interface InterruptController {
  /** Returns the vector of the highest-priority pending interrupt and marks it in service. */
  acknowledge(): number;
}

/** Observability: told about every event the CPU delivers (after vm-superio's `SerialEvents`). */
export interface CpuEvents {
  delivered(kind: EventKind, vector: number, errorCode: number): void;
}

/** The default: nobody listens. */
export const NO_EVENTS: CpuEvents = { delivered() {} };

export interface CpuOptions {
  readonly model?: CpuModel;
  readonly hooks?: CpuHooks;
  readonly events?: CpuEvents;
  /** The MMU to translate through (a VMX layer passes one with an EPT stage); default: a bare-metal MMU. */
  readonly mmu?: Mmu;
}

/** A constant-rate time base for the TSC (see {@link Cpu.tscSource}). */
export interface TscSource {
  /** Ticks since some fixed origin: non-decreasing, below 2^53. */
  ticks(): number;
}

/**
 * Instruction handler signature: every handler in the dispatch table has this shape. `ops` and `at` are
 * the instruction's operand record in its block (`operand-record.ts`), which the fast paths read; the
 * generic handlers read the decoded `ins`.
 */
export type Handler = (cpu: Cpu, ins: Instruction, ops: Int32Array, at: number) => void;

export class Cpu {
  readonly regs = new RegisterFile();
  readonly flags = new FlagState();
  readonly segs = new SegmentCaches();
  readonly ctrl = new ControlState();
  readonly msrs: MsrFile;
  readonly phys: PhysicalMemory;
  readonly pager: Pager;
  readonly blocks: BlockCache;
  readonly hooks: CpuHooks;
  readonly events: CpuEvents;
  readonly model: CpuModel;
  /** 1 per supported decoder feature tag. */
  readonly features: Uint8Array;
  /** Scratch results for CPUID / MSR hooks, reused. */
  readonly cpuidOut = new CpuidResult();
  readonly msrScratch = new MsrValue();

  // --- per-instruction scratch (no allocation on the hot path) ---
  /** EIP of the instruction being executed. */
  startIp = 0;
  /** ESP at the start of the instruction (restored when it faults). */
  startSp = 0;
  /** Segment and offset of the last memory operand computed by `operands.ts`. */
  eaSeg = 0;
  eaOff = 0;
  /**
   * High half of the last 64-bit value read by `read64`/`pop64`/`readOp*64` (unsigned): 64-bit values
   * travel as a low half returned and a high half here, so nothing is allocated.
   */
  hi = 0;
  /** Set by a handler to end the current block after this instruction. */
  stop = false;
  /** Why the current run must return (CpuExit), or -1. */
  exitReason = -1;

  // --- external events ---
  /** The INTR line level. */
  intr = false;
  /** An NMI edge is latched. */
  nmiPending = false;
  /** An NMI handler runs: further NMIs wait until IRET. */
  nmiBlocked = false;
  interruptController: InterruptController | null = null;
  /**
   * VT-x's "interrupt-window exiting": `run()` returns `CpuExit.InterruptWindow` at the first
   * instruction boundary where an interrupt could be taken, so a VMM can inject one there.
   */
  interruptWindowExiting = false;
  halted = false;
  /** Interrupts are inhibited for one instruction (after STI, MOV SS, POP SS). */
  shadow = false;
  /** Vector of the last event delivered (exception, interrupt or INT n); -1 before the first. */
  lastVector = -1;
  /**
   * The linear address of the #PF being offered to the VMX port (`VmxPort.event`), -1 for other
   * events. CR2 takes it only when the #PF is delivered through the IDT: a #PF that causes a VM exit
   * leaves CR2 alone and the exit qualification carries the address (SDM Vol. 3C §28.1).
   */
  pageFaultAddress = NO_PAGE_FAULT;
  /** Executed instruction count (the TSC base when no {@link tscSource} is set). */
  instructions = 0;
  tscOffset = 0;
  /**
   * What the TSC counts: null counts retired instructions (deterministic, for tests and bare runs); a
   * source makes it a constant-rate clock, as a VMM gives its guests, so that the guest's TSC and its
   * timers (PIT, HPET, LAPIC) agree whatever the host's speed.
   */
  tscSource: TscSource | null = null;
  /** The x87 FPU (state and arithmetic in `x87/`). */
  readonly fpu = new X87();
  /** The debug breakpoints in force, decoded from DR0..DR3/DR7 (see `debug-registers.ts`). */
  readonly bp = new Breakpoints();

  constructor(memory: GuestMemory, options: CpuOptions = {}) {
    this.hooks = options.hooks ?? new NullHooks();
    this.events = options.events ?? NO_EVENTS;
    this.model = options.model ?? PENTIUM_II;
    this.features = featureTable(this.model);
    this.phys = new PhysicalMemory(memory, this.hooks);
    this.pager = new Pager(this, options.mmu ?? new Mmu(memory));
    this.blocks = new BlockCache(this);
    this.phys.listener = this.blocks;
    this.phys.ramListener = this.pager;
    this.msrs = new MsrFile();
    this.reset();
  }

  /** Power-on RESET state (SDM Vol. 3 Table 9-1): real mode at F000:FFF0. */
  reset(): void {
    this.regs.r32.fill(0);
    this.regs.r32[2] = this.model.resetEdx;
    this.regs.ip = 0xfff0;
    writeFlags(this.flags, EFLAGS.FIXED1);
    for (let s = 0; s < 6; s++) this.segs.set(s, 0, 0, 0xffff, REAL_MODE_DATA_ATTR);
    this.segs.set(Seg.CS, 0xf000, 0xffff0000, 0xffff, REAL_MODE_CODE_ATTR);
    this.segs.set(Seg.LDTR, 0, 0, 0xffff, 0x82);
    this.segs.set(Seg.TR, 0, 0, 0xffff, 0x8b);
    const c = this.ctrl;
    c.cr0 = CR0.CD | CR0.NW | CR0.ET;
    c.cr2 = 0;
    c.cr3 = 0;
    c.cr4 = 0;
    c.tpr = 0;
    c.drHi.fill(0);
    c.xcr0 = 1;
    c.gdtr.base = 0;
    c.gdtr.limit = 0xffff;
    c.idtr.base = 0;
    c.idtr.limit = 0x3ff;
    c.cpl = 0;
    c.mode = Mode.Real;
    c.lma = false;
    this.msrs.reset();
    this.fpu.reset();
    this.pager.mmu.loadContext(c.cr0, 0, 0, 0, 0);
    this.halted = false;
    this.shadow = false;
    this.nmiPending = false;
    this.nmiBlocked = false;
    this.pager.flush();
    this.blocks.flush();
  }

  // ---------------------------------------------------------------- register conveniences (not hot)
  get eflags(): number {
    return readFlags(this.flags);
  }
  set eflags(value: number) {
    writeFlags(this.flags, value);
    this.updateMode();
  }

  /**
   * Code size for decoding: 64 in 64-bit mode (IA-32e with CS.L), 32 when CS.D is set in protected or
   * compatibility mode, else 16.
   */
  get bitness(): 16 | 32 | 64 {
    const c = this.ctrl;
    if (c.mode !== Mode.Protected) return 16;
    const attr = this.segs.attr[Seg.CS]!;
    if (c.lma && (attr & Attr.L) !== 0) return 64;
    return attr & Attr.DB ? 32 : 16;
  }

  /** 64-bit mode: IA-32e mode active (EFER.LMA) and CS.L set (SDM Vol. 3 §2.2). */
  get code64(): boolean {
    return this.ctrl.lma && (this.segs.attr[Seg.CS]! & Attr.L) !== 0 && this.ctrl.mode === Mode.Protected;
  }

  /**
   * Takes EFER.LMA from the MMU, which keeps it equal to EFER.LME and CR0.PG (SDM Vol. 3 §9.8.5), into
   * the EFER MSR and `ctrl.lma`, after any write to CR0 or EFER.
   */
  syncLongMode(): void {
    const efer = this.pager.mmu.state.efer;
    this.ctrl.lma = (efer & Efer.LMA) !== 0;
    const slot = this.msrs.find(Msr.EFER);
    if (slot >= 0) this.msrs.lo[slot] = efer >>> 0;
  }

  /**
   * Loads CR0/CR3/CR4 and EFER at once without the MOV CR checks (VM entry/exit, state restore, a
   * loader starting the guest in protected mode). Keeps the MMU and the TLB consistent.
   */
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer = 0): void {
    const c = this.ctrl;
    c.cr0 = cr0 >>> 0;
    // CR3 may hold a physical address above 4 GiB (IA-32e and PAE paging): kept as a whole number.
    c.cr3 = cr3 < 0 ? cr3 >>> 0 : cr3;
    c.cr4 = cr4 >>> 0;
    this.pager.mmu.loadContext(c.cr0, c.cr3, c.cr4, efer >>> 0, 0);
    this.pager.flush();
    this.syncLongMode();
    this.updateMode();
    this.stop = true;
  }

  /** Recomputes `ctrl.mode` from CR0.PE and EFLAGS.VM. */
  updateMode(): void {
    const c = this.ctrl;
    if ((c.cr0 & CR0.PE) === 0) c.mode = Mode.Real;
    else if (this.flags.bits & EFLAGS.VM) c.mode = Mode.V86;
    else c.mode = Mode.Protected;
  }

  // ---------------------------------------------------------------- external inputs
  /** Sets the INTR input level (driven by a PIC or LAPIC). */
  setIntr(level: boolean): void {
    this.intr = level;
  }

  /** Drives the A20 gate input (enabled after reset). Code decoded under the old setting is dropped. */
  setA20(enabled: boolean): void {
    this.pager.setA20(enabled);
    this.blocks.flush();
    this.stop = true;
  }

  /** Latches an NMI edge. */
  raiseNmi(): void {
    this.nmiPending = true;
  }

  /** Makes the current `run()` return `CpuExit.Stopped` at the next instruction boundary. */
  requestStop(): void {
    this.exitReason = CpuExit.Stopped;
    this.stop = true;
  }

  /** Time-stamp counter. */
  get tsc(): number {
    return this.tscBase() + this.tscOffset;
  }

  /** The TSC before the offset: the source's ticks or the retired-instruction count. */
  tscBase(): number {
    return this.tscSource === null ? this.instructions : this.tscSource.ticks();
  }

  // ---------------------------------------------------------------- interpreter
  /** Executes one instruction (or delivers one pending event). */
  step(): CpuExit {
    return this.run(1);
  }

  /**
   * Runs until `maxInstructions` have executed or an exit happens. Never throws for guest behaviour.
   */
  run(maxInstructions: number): CpuExit {
    this.exitReason = -1;
    this.syncBreakpoints();
    const limit = this.instructions + maxInstructions;
    while (this.instructions < limit) {
      if (this.checkEvents()) {
        if (this.exitReason >= 0) return this.exitReason as CpuExit;
        continue;
      }
      if (this.halted) return CpuExit.Hlt;
      // Armed breakpoints, TF and RF need the checks around each instruction that `runOne` makes.
      if (this.shadow || this.bp.armed || (this.flags.bits & TF_RF) !== 0) this.runOne();
      else this.runBlocks(limit);
      if (this.exitReason >= 0) return this.exitReason as CpuExit;
    }
    return CpuExit.Budget;
  }

  /**
   * Executes decoded blocks back to back (block chaining: the next block is found through the previous
   * block's successor links, see `BlockCache.lookup`) until the budget is used up or something needs
   * the outer loop: a handler set `stop` (exits, mode and flag changes), an interrupt or NMI became
   * deliverable (or, with `interruptWindowExiting`, IF became 1), an interrupt shadow or TF began, or an
   * instruction faulted (delivered here).
   */
  private runBlocks(limit: number): void {
    try {
      this.chain(limit);
    } catch (e) {
      if (e !== FAULT) throw e;
      // The faulting instruction (or the fetch of the next block) is rolled back.
      const regs = this.regs;
      regs.ip = this.startIp;
      regs.r32[4] = this.startSp;
      // A delivered fault uses up budget too, so a guest stuck in a fault loop still returns.
      this.instructions++;
      this.fault(FAULT);
    }
  }

  /** The loop of {@link runBlocks}, without the fault handling (kept out of the hottest function). */
  private chain(limit: number): void {
    const regs = this.regs;
    const flags = this.flags;
    // The block a compiled block named as its successor (no lookup needed), else null.
    let next: Block | null = null;
    for (;;) {
      let block: Block;
      if (next !== null) {
        // Named by a compiled block: no lookup to roll back (the paths of a compiled block that can
        // fault set start EIP/ESP themselves, the interpreter's loop below sets them per instruction).
        block = next;
        this.blocks.follow(block);
      } else {
        this.startIp = regs.ip;
        this.startSp = regs.r32[4]!;
        block = this.blocks.lookup();
      }
      next = null;
      const list = block.instructions;
      const handlers = block.handlers;
      const ops = block.ops;
      let n = block.count;
      const budget = limit - this.instructions;
      this.stop = false;
      const run = block.run;
      if (run !== null && n <= budget) next = run(this, list, handlers, budget, block);
      else {
        if (n > budget) n = budget;
        const bits = block.bitness;
        for (let i = 0, at = 0; i < n; i++, at += OPS_STRIDE) {
          // EIP is this instruction's own (the block's start, then each previous one's next EIP). The
          // next EIP is formed from it and the length in the operand record, wrapped as the decoder
          // wraps `nextIp`: the decoded instruction itself is only read by a handler that needs it.
          const ip = regs.ip;
          const next = nextEip(ip, ops[at + Rec.Length]!, bits);
          this.startIp = ip;
          this.startSp = regs.r32[4]!;
          regs.ip = next;
          handlers[i]!(this, list[i]!, ops, at);
          this.instructions++;
          if (this.stop || regs.ip !== next) break;
        }
        if (++block.hits === this.blocks.hotRuns) this.blocks.compile(block);
      }
      if (
        this.stop ||
        this.instructions >= limit ||
        this.shadow ||
        this.nmiPending ||
        ((this.intr || this.interruptWindowExiting) && (flags.bits & EFLAGS.IF) !== 0) ||
        (flags.bits & TF_RF) !== 0
      )
        return;
    }
  }

  /**
   * Executes one instruction (interrupt shadow, TF single-step, RF, armed breakpoints): first the
   * instruction-breakpoint fault unless RF is set, then the instruction (which clears RF, SDM Vol. 3
   * §18.3.1.1), then the trap-class #DB of its single step and data/I-O breakpoints.
   */
  private runOne(): void {
    const regs = this.regs;
    const bp = this.bp;
    const bits = this.flags.bits;
    const tf = (bits & EFLAGS.TF) !== 0;
    if (bp.instruction && (bits & EFLAGS.RF) === 0) {
      const hits = bp.execute(this.segs.base[Seg.CS]! + regs.ip);
      if (hits !== 0) {
        // Fault-class: EIP at the instruction, nothing executed; the pushed RF stays 0.
        this.startIp = regs.ip;
        this.startSp = regs.r32[4]!;
        this.instructions++;
        this.debugException(hits);
        return;
      }
    }
    this.flags.bits = bits & ~EFLAGS.RF;
    bp.hits = 0;
    this.shadow = false;
    this.stop = false;
    let faulted = false;
    try {
      this.startIp = regs.ip;
      this.startSp = regs.r32[4]!;
      const block = this.blocks.lookup();
      regs.ip = nextEip(regs.ip, block.ops[Rec.Length]!, block.bitness);
      block.handlers[0]!(this, block.instructions[0]!, block.ops, 0);
      this.instructions++;
      if (this.exitReason === CpuExit.Intercept) {
        // Rolled back for the VMM without a throw (`interceptInstruction`): as the catch below does.
        faulted = true;
        this.flags.bits |= bits & EFLAGS.RF;
      }
    } catch (e) {
      if (e !== FAULT) throw e;
      regs.ip = this.startIp;
      regs.r32[4] = this.startSp;
      this.instructions++;
      faulted = true;
      // Rolled back for the VMM (an exit before the instruction completed): RF as it was.
      if (FAULT.vector === INTERCEPTED) this.flags.bits |= bits & EFLAGS.RF;
      this.fault(FAULT);
    }
    // Single-step and data/I-O breakpoint traps after an instruction that completed (a faulting one
    // reports its fault only); both conditions are reported by one #DB.
    const trap = (tf ? DR6.BS : 0) | bp.hits;
    bp.hits = 0;
    if (trap !== 0 && !faulted && this.exitReason < 0 && !this.halted) {
      this.debugException(trap);
    }
  }

  /**
   * Delivers #DB for the DR6 conditions `bits`. DR6 takes them and DR7.GD is cleared (SDM Vol. 3
   * §18.2.3-4) unless the breakpoints are a VMM's (`bp.vmmOwned`): those never show in the guest's
   * registers, nor do those of a #DB that causes a VM exit (the VMX port reads `bp.pending`). A
   * `CpuEvents` listener may stop the #DB with `interceptSoftwareEvent` (a VMM's #DB intercept,
   * reading the conditions from `bp.pending` there): `run()` then returns `CpuExit.Intercept`.
   */
  debugException(bits: number): void {
    this.bp.pending = bits;
    // In VMX non-root operation a #DB that exits through the exception bitmap updates neither DR6 nor
    // DR7.GD: the exit qualification carries its conditions (SDM Vol. 3C §28.1).
    const nonRoot = this.hooks.vmx?.nonRoot === true;
    if (nonRoot && this.vmxTakes(EventKind.Exception, Vector.DB, 0, false, NO_PAGE_FAULT)) {
      this.bp.pending = 0;
      return;
    }
    if (!this.bp.vmmOwned) {
      const dr = this.ctrl.dr;
      dr[6] = dr6After(dr[6]!, bits);
      if (bits & DR6.BD) {
        dr[7] = (dr[7]! & ~DR7.GD) >>> 0;
        this.syncBreakpoints();
      }
    }
    try {
      this.deliverThroughIdt(EventKind.Exception, Vector.DB, 0, nonRoot);
    } catch (e) {
      if (e !== FAULT || FAULT.vector !== INTERCEPTED) throw e;
      this.exitToVmm();
    }
    this.bp.pending = 0;
  }

  /**
   * Ends `run()` with `CpuExit.Intercept` at the next check: the VMM takes what is happening now (an
   * event its exception bitmap or NMI exiting selects, an instruction a hook intercepted).
   */
  exitToVmm(): void {
    this.exitReason = CpuExit.Intercept;
    this.stop = true;
  }

  /** Reloads the breakpoints when DR0..DR3, DR7 or CR4.DE changed (MOV DR/CR4, a state restore). */
  syncBreakpoints(): void {
    if (this.bp.sync(this.ctrl.dr, this.ctrl.cr4) && this.bp.data) this.pager.dropRam();
  }

  /** Takes a pending NMI or interrupt if allowed. Returns true when one was delivered. */
  private checkEvents(): boolean {
    if (this.shadow) return false;
    if (this.nmiPending && !this.nmiBlocked) {
      this.nmiPending = false;
      this.nmiBlocked = true;
      this.halted = false;
      this.deliver(EventKind.External, Vector.NMI, 0);
      return true;
    }
    if (this.interruptWindowExiting && (this.flags.bits & EFLAGS.IF) !== 0) {
      this.exitReason = CpuExit.InterruptWindow;
      return true;
    }
    if (this.intr && this.flags.bits & EFLAGS.IF && this.interruptController !== null) {
      const vector = this.interruptController.acknowledge();
      this.halted = false;
      if (vector >= 0) {
        this.deliver(EventKind.External, vector & 0xff, 0);
        return true;
      }
    }
    return false;
  }

  /** Delivers the fault recorded in `f` (the instruction has been rolled back). */
  fault(f: FaultSignal): void {
    if (f.vector === INTERCEPTED) {
      this.exitReason = CpuExit.Intercept;
      return;
    }
    // Faults push RF = 1 (SDM Vol. 3 §18.3.1.1), so that the restarted instruction is not stopped by
    // an instruction breakpoint again; the gate clears it. Real mode pushes 16-bit FLAGS: no RF.
    const rf = this.ctrl.mode !== Mode.Real && f.vector !== Vector.DF && f.vector !== Vector.MC;
    if (rf) this.flags.bits |= EFLAGS.RF;
    // General detect (MOV DR with DR7.GD) is a #DB fault whose condition the handler left pending.
    if (f.vector === Vector.DB) this.debugException(this.bp.pending);
    else
      this.deliver(
        EventKind.Exception,
        f.vector,
        f.errorCode,
        f.vector === Vector.PF ? f.address : NO_PAGE_FAULT,
      );
    if (rf && this.exitReason >= 0) this.flags.bits &= ~EFLAGS.RF;
  }

  /**
   * Delivers an event, applying the double-fault and triple-fault rules (SDM Vol. 3 §6.15, Interrupt 8).
   * `pageFault` is the linear address of a #PF, which loads CR2 as the #PF is delivered (NO_PAGE_FAULT: not a
   * #PF raised by the CPU; an injected #PF leaves CR2 alone).
   */
  deliver(kind: EventKind, vector: number, errorCode: number, pageFault = NO_PAGE_FAULT): void {
    // VMX non-root operation: the exception bitmap or NMI exiting may turn the event into a VM exit,
    // which leaves CR2 as it was (SDM Vol. 3C §28.1).
    const nonRoot = this.hooks.vmx?.nonRoot === true;
    if (nonRoot && this.vmxTakes(kind, vector, errorCode, false, pageFault)) {
      // INT3/INTO exit at the instruction (its length goes to the exit information).
      if (kind === EventKind.Software) this.regs.ip = this.startIp;
      return;
    }
    if (pageFault !== NO_PAGE_FAULT) this.ctrl.cr2 = pageFault;
    this.deliverThroughIdt(kind, vector, errorCode, nonRoot);
  }

  /**
   * Offers an event to the VMX port (non-root operation only): true when it causes a VM exit, which
   * `run()` then returns for. `nested`: a fault while delivering the event offered before.
   */
  private vmxTakes(
    kind: EventKind,
    vector: number,
    errorCode: number,
    nested: boolean,
    pageFault: number,
  ): boolean {
    this.pageFaultAddress = pageFault;
    const taken = this.hooks.vmx?.event?.(kind, vector, errorCode, nested) === INTERCEPT;
    this.pageFaultAddress = NO_PAGE_FAULT;
    if (taken) this.exitToVmm();
    return taken;
  }

  /** The delivery of {@link deliver} once no VM exit took the event. */
  private deliverThroughIdt(kind: EventKind, vector: number, errorCode: number, nonRoot: boolean): void {
    materialize(this.flags);
    this.lastVector = vector;
    this.events.delivered(kind, vector, errorCode);
    try {
      deliverEvent(this, kind, vector, errorCode);
      this.stop = true;
    } catch (e) {
      if (e !== FAULT) throw e;
      const second = FAULT.vector;
      const code = FAULT.errorCode;
      const address = second === Vector.PF ? FAULT.address : NO_PAGE_FAULT;
      const first = kind === EventKind.Exception ? vector : -1;
      // A fault while delivering INT n is a fault of the INT instruction: report it at the INT.
      if (kind === EventKind.Software) this.regs.ip = this.startIp;
      // The VMM may take the fault (it reports the event in its IDT-vectoring information); a vector
      // of INTERCEPTED (an EPT violation on the IDT or stack) always stops for it.
      if (nonRoot && this.vmxTakes(EventKind.Exception, second, code, true, address)) return;
      if (second === INTERCEPTED) {
        // The delivery itself needs the VMM: stop here, at once (without `stop` the block would go on
        // and re-run the INT until the budget ran out).
        this.exitToVmm();
        return;
      }
      // "Processors update CR2 whenever a page fault is detected", also when it results in a #DF or
      // occurs while delivering one (SDM Vol. 3A §6.15, Interrupt 14); a #PF that exits was taken above.
      if (address !== NO_PAGE_FAULT) this.ctrl.cr2 = address;
      if (first === Vector.DF) {
        this.shutdown();
        return;
      }
      const a = first < 0 ? 0 : classOf(first);
      const b = classOf(second);
      if ((a === 1 && b === 1) || (a === 2 && (b === 1 || b === 2))) {
        this.deliverDoubleFault(nonRoot);
        return;
      }
      this.deliverNested(second, code, nonRoot);
    }
  }

  private deliverNested(vector: number, errorCode: number, nonRoot: boolean): void {
    this.lastVector = vector;
    this.events.delivered(EventKind.Exception, vector, errorCode);
    try {
      deliverEvent(this, EventKind.Exception, vector, errorCode);
      this.stop = true;
    } catch (e) {
      if (e !== FAULT) throw e;
      // In non-root operation the fault is offered to the exception bitmap as a fault while
      // delivering `vector` (the VMM then sees `vector` as IDT-vectoring information).
      const address = FAULT.vector === Vector.PF ? FAULT.address : NO_PAGE_FAULT;
      if (nonRoot && this.vmxTakes(EventKind.Exception, FAULT.vector, FAULT.errorCode, true, address)) return;
      if (address !== NO_PAGE_FAULT) this.ctrl.cr2 = address;
      this.deliverDoubleFault(nonRoot);
    }
  }

  private deliverDoubleFault(nonRoot: boolean): void {
    // The #DF may exit through the exception bitmap (bit 8), reporting the event being delivered.
    if (nonRoot && this.vmxTakes(EventKind.Exception, Vector.DF, 0, true, NO_PAGE_FAULT)) return;
    this.lastVector = Vector.DF;
    this.events.delivered(EventKind.Exception, Vector.DF, 0);
    try {
      deliverEvent(this, EventKind.Exception, Vector.DF, 0);
      this.stop = true;
    } catch (e) {
      if (e !== FAULT) throw e;
      // SDM Vol. 3C §26.2 (triple fault): in non-root operation an exception while calling the #DF
      // handler is offered to the exception bitmap first, as a fault while delivering the #DF (an EPT
      // violation always exits); only one that does not exit ends in a triple fault.
      const address = FAULT.vector === Vector.PF ? FAULT.address : NO_PAGE_FAULT;
      if (nonRoot && this.vmxTakes(EventKind.Exception, FAULT.vector, FAULT.errorCode, true, address)) return;
      if (address !== NO_PAGE_FAULT) this.ctrl.cr2 = address;
      this.shutdown();
    }
  }

  /** Triple fault: the CPU stops and the platform sees a shutdown cycle. */
  shutdown(): void {
    this.exitReason = CpuExit.Shutdown;
    this.halted = true;
    this.stop = true;
  }
}

/**
 * "Not a #PF" where a page-fault address is passed along: any number is a valid linear address (in
 * 64-bit mode a canonical address in signed form may be negative, -1 included), 2^64 is none.
 */
export const NO_PAGE_FAULT = 2 ** 64;

/** The flags that make the loop go instruction by instruction (single step; RF to clear). */
const TF_RF = EFLAGS.TF | EFLAGS.RF;

/** 0 benign, 1 contributory, 2 page fault (SDM Vol. 3 Table 6-4). */
function classOf(vector: number): number {
  return vector === 0 || (vector >= 10 && vector <= 13) ? 1 : vector === 14 ? 2 : 0;
}
