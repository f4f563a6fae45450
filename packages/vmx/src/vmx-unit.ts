/**
 * The VMX unit of a software CPU: VT-x for software running on `@typevisor/x86-cpu`, so a hypervisor
 * written in guest code can use VMXON ... INVVPID and run its own guests in VMX non-root operation.
 *
 * The unit is the CPU's hooks (`CpuHooks`, passing everything it does not decide to the platform's
 * hooks) and its VMX port (`CpuHooks.vmx`). It is a thin adapter over this package's parts:
 * - VMX instructions: the CPU decodes them and reads operands; {@link VmxState} and the functions of
 *   `instructions.ts` decide; VM entry loads guest state with `enterGuest`, a failed entry host state
 *   with `failEntry`, and `TranslationSwitch` moves the MMU to the guest's EPT/VPID and back.
 * - Non-root operation: the hook points decide exits with `exit-conditions.ts` (CPUID, HLT, RDTSC,
 *   INVLPG, I/O through unconditional exiting or the I/O bitmaps, RDMSR/WRMSR through the MSR bitmaps,
 *   MOV to CR0/CR3/CR4 and LMSW through the masks and CR3-load exiting, every VMX instruction and
 *   VMCALL) and note the exit; {@link VmxUnit.run} performs it at the instruction boundary where the CPU
 *   stopped (`exitToHost`: exit information, guest state saved, host state loaded, SDM 28.5).
 * - {@link VmxUnit.run} also performs the exits that are not instructions: the VMX-preemption timer
 *   (the CPU runs exactly to its expiry when the TSC counts instructions), external interrupts with
 *   "external-interrupt exiting", triple fault, EPT violations and misconfigurations.
 *
 * - Events: the CPU asks {@link VmxUnit.event} before it delivers an exception, NMI or INT3/INTO in
 *   non-root operation (exception bitmap with the #PF error-code mask/match, NMI exiting: reason 0),
 *   and again for a fault while delivering one (the exit then carries IDT-vectoring information);
 *   interrupt-window exiting (the CPU's `interruptWindowExiting`) and NMI-window exiting (polled
 *   instruction by instruction while NMIs are blocked) exit at instruction boundaries.
 * - MOV DR and the descriptor-table instructions ask {@link VmxUnit.instruction} ("MOV-DR exiting",
 *   "descriptor-table exiting"), with the exit qualification and instruction information of SDM
 *   28.2; VMX instructions that exit report their instruction information too.
 *
 * Not modelled here (see DESIGN.md): VMCS shadowing, INS/OUTS instruction information.
 */
import type { GuestMemory } from '@typevisor/memory';
import { FaultKind } from '@typevisor/mmu';
import {
  CR4_VMXE,
  type Cpu,
  CpuExit,
  type CpuHooks,
  type CpuidResult,
  EventKind,
  type InterruptController,
  Mode,
  Msr,
  type MsrValue,
  NullHooks,
  Seg,
  VmxInstruction,
  isSoftwareException,
  type VmxOperands,
  type VmxPort,
  currentInstructionBytes,
} from '@typevisor/x86-cpu';
import {
  FeatureControl,
  type VmxCapabilities,
  VmxMsr,
  createVmxCapabilities,
  readVmxMsr,
} from './capabilities.js';
import { PinBased, ProcBased, ProcBased2 } from './controls.js';
import {
  type DecodedInstruction,
  type SensitiveOperation,
  descriptorTableExitInfo,
  displacementQualification,
  exceptionInterruptionInfo,
  exceptionQualification,
  movDrExitQualification,
  sensitiveExitReason,
  vmxInstructionInfo,
} from './event-exits.js';
import {
  ExitInfo,
  exceptionExits,
  externalInterruptExitInfo,
  guestCrRead,
  guestCrWrite,
  INSTRUCTION_RULES,
  instructionAction,
  InstructionAction,
  ioExits,
  lmswExits,
  movToCr3Exits,
  movToCrExits,
  msrExits,
  nmiExits,
  type SensitiveInstruction,
} from './exit-conditions.js';
import {
  type AddressSize,
  crAccessQualification,
  CrAccessType,
  insOutsInstructionInfo,
  ioQualification,
  lmswQualification,
  SegmentReg,
} from './exit-info.js';
import { EptViolationBits } from './exit-info.js';
import { ExitReason, InterruptionType, exceptionHasErrorCode, makeInterruptionInfo } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import {
  VMX_INSTRUCTION_EXIT_REASON,
  type VmxCpu,
  VmxOutcome,
  VmxState,
  invept,
  invvpid,
  vmcall,
  vmclear,
  vmentry,
  vmptrld,
  vmptrst,
  vmread,
  vmwrite,
  vmxoff,
  vmxon,
} from './instructions.js';
import { PreemptionTimer } from './preemption-timer.js';
import type { ProcessorState, SegmentState } from './processor-state.js';
import {
  EntryResult,
  type TransitionPort,
  Transitions,
  enterGuest,
  exitToHost,
  failEntry,
} from './transitions.js';
import { TranslationSwitch } from './translation.js';

/** IA32_FEATURE_CONTROL. */
export const IA32_FEATURE_CONTROL = 0x3a;

const EFLAGS_CF = 1 << 0;
const EFLAGS_PF = 1 << 2;
const EFLAGS_AF = 1 << 4;
const EFLAGS_ZF = 1 << 6;
const EFLAGS_SF = 1 << 7;
const EFLAGS_OF = 1 << 11;
const ARITH_FLAGS = EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF;
const CR0_PE = 1;
const IRET_OPCODE = 0xcf;
const UD = 6;
const GP = 13;
const INTERCEPT = -1;
/** Unusable bit of the VMCS access-rights format. */
const AR_UNUSABLE = 1 << 16;
/** Cache VALID bit of `SegmentCaches.access`. */
const ACCESS_VALID = 4;
/** With a time-based TSC the preemption timer is checked at least every this many instructions. */
const TIMER_POLL_INSTRUCTIONS = 1024;

type SegmentName = 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | 'ldtr' | 'tr';
const SEGMENTS: readonly [SegmentName, number][] = [
  ['es', Seg.ES],
  ['cs', Seg.CS],
  ['ss', Seg.SS],
  ['ds', Seg.DS],
  ['fs', Seg.FS],
  ['gs', Seg.GS],
  ['ldtr', Seg.LDTR],
  ['tr', Seg.TR],
];

const INSTRUCTION_NAMES: readonly (keyof typeof VMX_INSTRUCTION_EXIT_REASON)[] = [
  'vmxon',
  'vmxoff',
  'vmclear',
  'vmptrld',
  'vmptrst',
  'vmread',
  'vmwrite',
  'vmlaunch',
  'vmresume',
  'vmcall',
  'invept',
  'invvpid',
];

export interface VmxUnitOptions {
  /** The capability model (default: `createVmxCapabilities()`). */
  readonly caps?: VmxCapabilities;
  /** The platform's hooks (ports, MMIO): everything the unit does not turn into a VM exit goes there. */
  readonly hooks?: CpuHooks;
}

/** Stands between the CPU and the platform's interrupt controller while "external-interrupt exiting" is 1. */
class InterruptGate implements InterruptController {
  /** An interrupt was requested while the guest ran: the unit exits at the next boundary. */
  requested = false;
  constructor(private readonly unit: VmxUnit) {}
  acknowledge(): number {
    this.requested = true;
    this.unit.attachedCpu().requestStop();
    return -1;
  }
}

export class VmxUnit implements CpuHooks, VmxPort {
  readonly caps: VmxCapabilities;
  readonly state: VmxState;
  readonly transitions: Transitions;
  readonly timer: PreemptionTimer;
  /** The exit the last hook decided (valid while {@link exitPending}). */
  readonly exit = new ExitInfo();
  exitPending = false;
  crValue = 0;
  /** VM exits performed, by basic exit reason (observability). */
  readonly exitCounts = new Uint32Array(80);

  private readonly platform: CpuHooks;
  private cpu: Cpu | null = null;
  private translation: TranslationSwitch | null = null;
  private readonly vcpu: VmxCpu;
  private readonly port: TransitionPort;
  private readonly scratch = new Uint32Array(4);
  private readonly bytes = new Uint8Array(16);
  private readonly gate = new InterruptGate(this);
  private hostController: InterruptController | null = null;
  private hostTscOffset = 0;
  /** The CR (0 or 4) whose write the MOV-CR wrapper decided: the CPU's own hook call for it passes through. */
  private crDecided = -1;
  /** A VM entry completed inside `cpu.run`: {@link run} regains control to slice for the timer. */
  private entered = false;
  /** The last VM exit ended in a VMX abort. */
  private aborted = false;
  /** The event being delivered through the guest IDT, for IDT-vectoring information (28.2.4). */
  private deliveringInfo = 0;
  private deliveringErrorCode = 0;
  /** Its instruction length (software interrupts and exceptions). */
  private deliveringLength = 0;
  /**
   * The event whose delivery a nested fault interrupted, while the CPU delivers that fault: a #DF the
   * two make (or its exit) reports this one, not the fault (SDM 28.2.4).
   */
  private outerInfo = 0;
  private outerErrorCode = 0;
  private outerLength = 0;
  /** The exit being decided happened while delivering that event. */
  private vectoring = false;
  /** The injected event is being delivered: the exception bitmap does not apply to it. */
  private injecting = false;
  /** The exit being decided is an NMI's: NMIs are blocked after it. */
  private nmiExit = false;
  /** The platform's `interruptWindowExiting`, kept while a guest runs with the VMCS's. */
  private hostWindow = false;
  /** "NMI-window exiting" of the running guest. */
  private nmiWindow = false;
  /**
   * "Virtual NMIs" of the running guest. The CPU's `nmiBlocked` then stands for the guest's
   * virtual-NMI blocking (VM entry loads it from interruptibility bit 3, the guest's IRET clears it, an
   * injected NMI sets it, the NMI window and VM exits read it), while real NMIs are not blocked in
   * non-root operation (26.6.1) and, with NMI exiting, always exit.
   */
  private virtualNmis = false;
  /**
   * "NMI exiting" without "virtual NMIs", entered with NMIs blocked: the blocking lasts as long as
   * non-root operation (26.6.1; IRET does not affect it, 25.3), though the CPU's IRET clears its flag.
   */
  private nmiBlockingHeld = false;
  /** The CPU began to take an NMI that {@link nmiBlockingHeld} blocks: it was put back, no exit. */
  private nmiPutBack = false;
  private readonly displacement = new Uint32Array(2);
  /**
   * A MONITOR executed in non-root operation without exiting armed the (unmodelled) monitoring
   * hardware; the next MWAIT disarms it. MWAIT's exit qualification is 1 while armed (SDM 28.2.1).
   */
  private monitorArmed = false;

  constructor(
    readonly memory: GuestMemory,
    options: VmxUnitOptions = {},
  ) {
    this.caps = options.caps ?? createVmxCapabilities();
    this.platform = options.hooks ?? new NullHooks();
    this.state = new VmxState(this.caps);
    this.transitions = new Transitions(this.state);
    this.timer = new PreemptionTimer(this.caps.preemptionTimerRate);
    this.vcpu = this.makeVmxCpu();
    this.port = this.makeTransitionPort();
  }

  get vmx(): VmxPort {
    return this;
  }

  /**
   * Connects the unit to the CPU it is the hooks of (`new Cpu(memory, { hooks: unit, model:
   * withVmx(...) })`): adds IA32_FEATURE_CONTROL (0, unlocked, as firmware leaves it before locking)
   * and the read-only IA32_VMX_* capability MSRs to the CPU's MSR file.
   */
  attach(cpu: Cpu): void {
    if (cpu.hooks !== this)
      throw new Error('VmxUnit.attach: the CPU was not created with this unit as its hooks');
    this.cpu = cpu;
    this.translation = new TranslationSwitch(cpu.pager.mmu, this.memory, this.caps);
    cpu.msrs.define(IA32_FEATURE_CONTROL, 0, 0, FeatureControl.Lock | 0x6, 0);
    const v = this.scratch;
    for (let index = VmxMsr.Basic; index <= VmxMsr.VmFunc; index++) {
      if (readVmxMsr(this.caps, index, v)) cpu.msrs.define(index, v[0]!, v[1]!, 0, 0);
    }
  }

  /** The CPU given to {@link attach}. */
  attachedCpu(): Cpu {
    if (this.cpu === null) throw new Error('VmxUnit: attach(cpu) first');
    return this.cpu;
  }

  // ---- running ------------------------------------------------------------------------------------

  /**
   * Runs the CPU for up to `maxInstructions`, performing VM exits as they happen, and returns what
   * `Cpu.run` would return for everything else (HLT in root operation, the budget, a platform
   * intercept, shutdown in root operation).
   */
  run(maxInstructions: number): CpuExit {
    const cpu = this.attachedCpu();
    const end = cpu.instructions + maxInstructions;
    for (;;) {
      if (this.aborted) {
        // A VMX abort (28.7) shut the logical processor down.
        this.aborted = false;
        return CpuExit.Shutdown;
      }
      if (this.state.nonRoot && this.boundaryExit(cpu)) continue;
      const left = end - cpu.instructions;
      if (left <= 0) return CpuExit.Budget;
      let slice = left;
      if (this.state.nonRoot && this.timer.armed) {
        const ticks =
          cpu.tscSource === null ? this.timer.ticksUntilExpiry(cpu.tscBase()) : TIMER_POLL_INSTRUCTIONS;
        slice = Math.max(1, Math.min(slice, ticks));
      }
      // NMI-window exiting: the window opens at an IRET, so the guest runs one instruction at a time.
      if (this.state.nonRoot && this.nmiWindow) slice = 1;
      this.exitPending = false;
      this.vectoring = false;
      this.nmiExit = false;
      this.nmiPutBack = false;
      this.entered = false;
      this.crDecided = -1;
      this.gate.requested = false;
      if (this.state.nonRoot) cpu.pager.mmu.fault.clear();
      if (this.nmiBlockingHeld) cpu.nmiBlocked = true;
      const why = cpu.run(slice);
      if (this.entered && why === CpuExit.Stopped) continue;
      if (!this.state.nonRoot) {
        if (why === CpuExit.Budget) continue;
        return why;
      }
      switch (why) {
        case CpuExit.Budget:
          continue;
        case CpuExit.InterruptWindow:
          this.exit.reset(ExitReason.InterruptWindow);
          this.performExit(cpu);
          continue;
        case CpuExit.Intercept:
          if (this.exitPending) {
            this.performExit(cpu);
            continue;
          }
          if (this.nmiPutBack) continue;
          if (this.eptExit(cpu)) continue;
          return why;
        case CpuExit.Shutdown:
          // The shutdown halted the CPU; the guest state records the faulting instruction, active.
          cpu.halted = false;
          this.exit.reset(ExitReason.TripleFault);
          this.performExit(cpu);
          continue;
        case CpuExit.Stopped:
          if (this.gate.requested || this.realNmiHeld(cpu)) continue;
          return why;
        case CpuExit.Hlt:
          if (this.extIntPending(cpu) || this.realNmiHeld(cpu)) continue;
          return why;
        default:
          return why;
      }
    }
  }

  /**
   * Exits decided between instructions: the preemption timer, an open NMI window (no NMI blocking;
   * this CPU's one interrupt shadow stands for STI blocking, which does not close it), then a pending
   * external interrupt. The interrupt window is the CPU's own (`CpuExit.InterruptWindow`).
   */
  private boundaryExit(cpu: Cpu): boolean {
    if (this.timer.expired(cpu.tscBase())) {
      this.exit.reset(ExitReason.PreemptionTimerExpired);
      this.performExit(cpu);
      return true;
    }
    if (this.realNmiHeld(cpu)) {
      // Virtual-NMI blocking held the CPU back; the real NMI is not blocked and exits (26.2), the
      // guest's virtual-NMI blocking stays as it is in the saved interruptibility state.
      cpu.nmiPending = false;
      cpu.halted = false;
      this.exit.reset(ExitReason.ExceptionOrNmi).interruptionInfo = makeInterruptionInfo(
        2,
        InterruptionType.Nmi,
      );
      this.nmiExit = true;
      this.performExit(cpu);
      return true;
    }
    if (this.nmiWindow && !cpu.nmiBlocked) {
      this.exit.reset(ExitReason.NmiWindow);
      this.performExit(cpu);
      return true;
    }
    if (this.extIntPending(cpu)) {
      const info = this.exit.reset(ExitReason.ExternalInterrupt);
      const vmcs = this.state.vmcs;
      const controller = this.hostController;
      const ack = externalInterruptExitInfo(vmcs, 0) !== 0 && controller !== null;
      const vector = ack ? controller.acknowledge() : -1;
      if (vector >= 0) info.interruptionInfo = externalInterruptExitInfo(vmcs, vector & 0xff);
      this.performExit(cpu);
      return true;
    }
    return false;
  }

  /**
   * A real NMI is pending that the CPU did not take because its NMI flag holds the guest's
   * virtual-NMI blocking ("virtual NMIs" = 1, so NMI exiting is 1 too).
   */
  private realNmiHeld(cpu: Cpu): boolean {
    return this.virtualNmis && cpu.nmiPending && cpu.nmiBlocked;
  }

  /** After a platform hook: an NMI it raised that {@link realNmiHeld} describes ends the CPU's run. */
  private stopForHeldNmi(): void {
    const cpu = this.cpu;
    if (cpu !== null && this.realNmiHeld(cpu)) cpu.requestStop();
  }

  private extIntPending(cpu: Cpu): boolean {
    return (
      this.state.nonRoot &&
      cpu.intr &&
      (this.state.vmcs.read32(F.PinBasedControls) & PinBased.ExternalInterruptExiting) !== 0
    );
  }

  /** An EPT violation or misconfiguration stopped the guest. */
  private eptExit(cpu: Cpu): boolean {
    const f = cpu.pager.mmu.fault;
    if (f.kind !== FaultKind.EptViolation && f.kind !== FaultKind.EptMisconfig) return false;
    const info = this.exit.reset(
      f.kind === FaultKind.EptViolation ? ExitReason.EptViolation : ExitReason.EptMisconfiguration,
    );
    info.qualificationLo = f.qualification;
    info.guestPhysicalLo = f.guestPhysical % 2 ** 32;
    info.guestPhysicalHi = Math.floor(f.guestPhysical / 2 ** 32);
    info.guestLinearLo = f.address >>> 0;
    if (!this.vectoring && this.iretUnblocksNmi(cpu))
      info.qualificationLo |= EptViolationBits.NmiUnblockingDueToIret;
    this.performExit(cpu);
    return true;
  }

  /** VM exit with {@link exit}: SDM 28.2-28.5 through `exitToHost`, then the MMU back to the host. */
  private performExit(cpu: Cpu): void {
    const t = this.transitions;
    const timerValue = this.timer.valueAt(cpu.tscBase());
    const virtualNmis = this.virtualNmis;
    if (this.nmiBlockingHeld) cpu.nmiBlocked = true;
    this.timer.disarm();
    this.leaveGuestContext(cpu);
    if (this.vectoring) this.recordVectoring(cpu);
    this.exitCounts[this.exit.reason & 0xffff] = (this.exitCounts[this.exit.reason & 0xffff] ?? 0) + 1;
    const ok = exitToHost(t, this.port, this.exit, timerValue);
    this.exitPending = false;
    this.vectoring = false;
    if (!ok) {
      this.aborted = true;
      return;
    }
    // VM exits caused by NMIs block NMIs; other exits leave the blocking as it is (28.5.5 / 27.5.5):
    // with "virtual NMIs" the guest ran with real NMIs unblocked (26.6.1), whatever its virtual-NMI
    // blocking (saved in the guest state, and loaded into the CPU's flag with the host state).
    if (this.nmiExit) cpu.nmiBlocked = true;
    else if (virtualNmis) cpu.nmiBlocked = false;
    this.nmiExit = false;
    this.translation!.exitToHost(t.cpuState);
    cpu.halted = false;
    cpu.exitReason = -1;
  }

  /** Undoes what VM entry changed outside the register image: interrupt controller, TSC offset. */
  private leaveGuestContext(cpu: Cpu): void {
    if (cpu.interruptController === this.gate) cpu.interruptController = this.hostController;
    cpu.tscOffset = this.hostTscOffset;
    cpu.interruptWindowExiting = this.hostWindow;
    this.nmiWindow = false;
    this.virtualNmis = false;
    this.nmiBlockingHeld = false;
  }

  /**
   * IDT-vectoring information (28.2.4): the exit happened while delivering the event last seen by
   * {@link event} (or injected). Software events report their instruction length; an NMI being
   * delivered was not delivered, so the guest's state shows no NMI blocking.
   */
  private recordVectoring(cpu: Cpu): void {
    const e = this.exit;
    e.idtVectoringInfo = this.deliveringInfo;
    e.idtVectoringErrorCode = this.deliveringErrorCode;
    const type = (this.deliveringInfo >>> 8) & 7;
    if (
      type === InterruptionType.SoftwareInterrupt ||
      type === InterruptionType.PrivilegedSoftwareException ||
      type === InterruptionType.SoftwareException
    ) {
      e.instructionLength = this.deliveringLength;
    }
    if (type === InterruptionType.Nmi) cpu.nmiBlocked = false;
  }

  /**
   * "NMI unblocking due to IRET" (28.2.2, 28.2.3): the exit is a fault or EPT violation in an IRET
   * executed with NMIs (or, with "virtual NMIs", virtual NMIs) blocked; the blocking is cleared
   * before the exit and the bit tells the VMM. Not with "NMI exiting" = 1 and "virtual NMIs" = 0.
   */
  private iretUnblocksNmi(cpu: Cpu): boolean {
    if (!cpu.nmiBlocked) return false;
    const pin = this.state.vmcs.read32(F.PinBasedControls);
    if ((pin & PinBased.NmiExiting) !== 0 && (pin & PinBased.VirtualNmis) === 0) return false;
    const n = currentInstructionBytes(cpu, this.bytes);
    let i = 0;
    while (i < n && isPrefix(this.bytes[i]!)) i++;
    if (i >= n || this.bytes[i] !== IRET_OPCODE) return false;
    cpu.nmiBlocked = false;
    return true;
  }

  // ---- events in non-root operation ---------------------------------------------------------------

  /** True in VMX non-root operation: the CPU asks {@link event} and {@link instruction} only then. */
  get nonRoot(): boolean {
    return this.state.nonRoot;
  }

  /**
   * An event about to be delivered through the guest's IDT (see `VmxPort.event`): exception bitmap
   * (hardware exceptions, INT3/INTO as software exceptions; #PF through the error-code mask/match)
   * and NMI exiting decide a VM exit with reason 0 (26.2). Remembers the event for IDT-vectoring
   * information; `nested` is a fault while delivering it.
   */
  event(kind: EventKind, vector: number, errorCode: number, nested: boolean): number {
    const cpu = this.attachedCpu();
    const vmcs = this.state.vmcs;
    const pe = (cpu.ctrl.cr0 & CR0_PE) !== 0;
    if (nested) {
      // vector -1: an EPT violation or misconfiguration stopped the delivery.
      if (vector < 0) {
        this.vectoring = true;
        return INTERCEPT;
      }
      // A #DF the CPU makes of two faults reports the event whose delivery failed first (the one
      // being delivered before the fault offered last).
      if (vector === 8) this.restoreOuter();
      if (!exceptionExits(vmcs, vector, errorCode)) {
        // The CPU delivers it next (the #DF, or the fault itself after a benign event): a fault in
        // that delivery is a fault while delivering it. A #DF may still follow (kept in `outer`).
        this.outerInfo = this.deliveringInfo;
        this.outerErrorCode = this.deliveringErrorCode;
        this.outerLength = this.deliveringLength;
        const hasErrorCode = pe && exceptionHasErrorCode(vector);
        this.deliveringInfo = exceptionInterruptionInfo(vector, pe) >>> 0;
        this.deliveringErrorCode = hasErrorCode ? errorCode >>> 0 : 0;
        this.deliveringLength = 0;
        return 0;
      }
      this.exceptionExit(cpu, vector, errorCode, pe, false);
      this.vectoring = true;
      return INTERCEPT;
    }
    if (this.injecting) return 0;
    if (kind === EventKind.Software) {
      const software = isSoftwareException(cpu, vector);
      const length = ((cpu.regs.ip - cpu.startIp) & (cpu.bitness === 16 ? 0xffff : 0xffff_ffff)) >>> 0;
      const type = software ? InterruptionType.SoftwareException : InterruptionType.SoftwareInterrupt;
      this.remember(makeInterruptionInfo(vector, type), 0, length);
      if (!software || !exceptionExits(vmcs, vector)) return 0;
      const info = this.exit.reset(ExitReason.ExceptionOrNmi);
      info.interruptionInfo = makeInterruptionInfo(vector, type);
      info.instructionLength = length;
      this.exitPending = true;
      return INTERCEPT;
    }
    if (kind === EventKind.External) {
      const nmi = vector === 2;
      if (nmi && this.nmiBlockingHeld) {
        // A guest IRET cleared the CPU's flag, but NMIs stay blocked: the NMI waits, nothing exits.
        cpu.nmiPending = true;
        cpu.nmiBlocked = true;
        this.nmiPutBack = true;
        return INTERCEPT;
      }
      this.remember(
        makeInterruptionInfo(vector, nmi ? InterruptionType.Nmi : InterruptionType.ExternalInterrupt),
        0,
        0,
      );
      if (!nmi || !nmiExits(vmcs)) return 0;
      // The CPU blocked NMIs for the handler it was about to run; the guest's state has no blocking.
      cpu.nmiBlocked = false;
      this.exit.reset(ExitReason.ExceptionOrNmi).interruptionInfo = makeInterruptionInfo(
        2,
        InterruptionType.Nmi,
      );
      this.nmiExit = true;
      this.exitPending = true;
      return INTERCEPT;
    }
    const hasErrorCode = pe && exceptionHasErrorCode(vector);
    this.remember(exceptionInterruptionInfo(vector, pe), hasErrorCode ? errorCode : 0, 0);
    if (!exceptionExits(vmcs, vector, errorCode)) return 0;
    this.exceptionExit(cpu, vector, errorCode, pe, true);
    return INTERCEPT;
  }

  private remember(info: number, errorCode: number, length: number): void {
    this.outerInfo = this.deliveringInfo = info >>> 0;
    this.outerErrorCode = this.deliveringErrorCode = errorCode >>> 0;
    this.outerLength = this.deliveringLength = length;
  }

  /** The event being delivered is again the one before the last nested fault (see {@link event}). */
  private restoreOuter(): void {
    this.deliveringInfo = this.outerInfo;
    this.deliveringErrorCode = this.outerErrorCode;
    this.deliveringLength = this.outerLength;
  }

  /** Notes an exit for hardware exception `vector` (28.2.1 qualification, 28.2.2 interruption information). */
  private exceptionExit(cpu: Cpu, vector: number, errorCode: number, pe: boolean, iret: boolean): void {
    const unblocked = iret && this.iretUnblocksNmi(cpu);
    const info = this.exit.reset(ExitReason.ExceptionOrNmi);
    info.interruptionInfo = exceptionInterruptionInfo(vector, pe, unblocked);
    if (pe && exceptionHasErrorCode(vector)) info.interruptionErrorCode = errorCode >>> 0;
    // The CPU has written neither CR2 nor DR6 for an exception that exits (28.1): the #PF address and
    // the #DB conditions come with the event.
    info.qualificationLo = exceptionQualification(vector, cpu.pageFaultAddress >>> 0, cpu.bp.pending);
    // A #PF in 64-bit mode: the linear address is a canonical address in signed form (64 bits).
    if (vector === 14) info.qualificationHi = Math.floor(cpu.pageFaultAddress / 4294967296) >>> 0;
    this.exitPending = true;
  }

  /**
   * MOV DR with "MOV-DR exiting", LGDT ... STR with "descriptor-table exiting", RDPMC, PAUSE,
   * MONITOR, MWAIT, WBINVD with their controls and INVD and XSETBV always (26.1.2, 26.1.3): the exit
   * with its qualification and instruction information (28.2.1, 28.2.5).
   */
  instruction(op: SensitiveOperation, ins: DecodedInstruction): number {
    switch (op) {
      case 'rdpmc':
      case 'pause':
      case 'wbinvd':
      case 'invd':
      case 'xsetbv':
        return this.sensitive(op, 0) ?? 0;
      case 'monitor': {
        const exit = this.sensitive(op, 0);
        // A MONITOR that goes on to #GP (nonzero ECX, checked by the CPU after this call) arms nothing.
        if (exit === undefined && this.attachedCpu().regs.u32[1] === 0) this.monitorArmed = true;
        return exit ?? 0;
      }
      case 'mwait': {
        const armed = this.monitorArmed;
        this.monitorArmed = false;
        return this.sensitive(op, armed ? 1 : 0) ?? 0;
      }
    }
    const vmcs = this.state.vmcs;
    const proc = vmcs.read32(F.ProcBasedControls);
    if (op === 'movToDr' || op === 'movFromDr') {
      if ((proc & ProcBased.MovDrExiting) === 0) return 0;
      return this.noteExit(ExitReason.MovDr, movDrExitQualification(op, ins));
    }
    const proc2 =
      (proc & ProcBased.ActivateSecondaryControls) !== 0 ? vmcs.read32(F.SecondaryProcBasedControls) : 0;
    if ((proc2 & ProcBased2.DescriptorTableExiting) === 0) return 0;
    this.noteExit(sensitiveExitReason(op), 0);
    this.exit.instructionInfo = descriptorTableExitInfo(op, ins);
    this.setDisplacement(ins);
    return INTERCEPT;
  }

  private setDisplacement(ins: DecodedInstruction): void {
    displacementQualification(ins, this.displacement);
    this.exit.qualificationLo = this.displacement[0]!;
    this.exit.qualificationHi = this.displacement[1]!;
  }

  /** Instruction information and displacement of a VMX instruction that exits. */
  private vmxInstructionExit(op: VmxInstruction, o: VmxOperands): number {
    const name = INSTRUCTION_NAMES[op]!;
    this.noteExit(VMX_INSTRUCTION_EXIT_REASON[name], 0);
    this.exit.instructionInfo = vmxInstructionInfo(name, o.ins);
    if (this.exit.instructionInfo !== 0) this.setDisplacement(o.ins);
    return INTERCEPT;
  }

  // ---- the VMX port -------------------------------------------------------------------------------

  execute(op: VmxInstruction, o: VmxOperands): number {
    const s = this.state;
    const c = this.vcpu;
    const early = this.precheck(op, o);
    if (early !== 0) return early;
    const p = this.scratch;
    let outcome: VmxOutcome;
    switch (op) {
      case VmxInstruction.Vmxon:
        o.readMemory64(p);
        outcome = vmxon(s, c, p[0]!, p[1]!);
        break;
      case VmxInstruction.Vmxoff:
        outcome = vmxoff(s, c);
        break;
      case VmxInstruction.Vmclear:
        o.readMemory64(p);
        outcome = vmclear(s, c, p[0]!, p[1]!);
        break;
      case VmxInstruction.Vmptrld:
        o.readMemory64(p);
        outcome = vmptrld(s, c, p[0]!, p[1]!);
        break;
      case VmxInstruction.Vmptrst:
        outcome = vmptrst(s, c);
        if (outcome === VmxOutcome.Succeed) o.writeMemory64(s.out[0]!, s.out[1]!);
        break;
      case VmxInstruction.Vmread:
        outcome = vmread(s, c, o.register, 0);
        if (outcome === VmxOutcome.Succeed) o.writeRm(s.out[0]!);
        break;
      case VmxInstruction.Vmwrite:
        outcome = vmwrite(s, c, o.register, 0, o.readRm(), 0);
        break;
      case VmxInstruction.Vmlaunch:
      case VmxInstruction.Vmresume:
        outcome = vmentry(s, c, op === VmxInstruction.Vmlaunch);
        break;
      case VmxInstruction.Vmcall:
        outcome = vmcall(s, c);
        break;
      case VmxInstruction.Invept:
        o.readMemory128(p);
        outcome = invept(s, c, o.register, 0, p);
        break;
      default:
        o.readMemory128(p);
        outcome = invvpid(s, c, o.register, 0, p);
        break;
    }
    switch (outcome) {
      case VmxOutcome.InvalidOpcode:
        return UD;
      case VmxOutcome.GeneralProtection:
        return GP;
      case VmxOutcome.VmExit:
        return this.vmxInstructionExit(op, o);
      case VmxOutcome.Enter:
        this.enter(op === VmxInstruction.Vmlaunch);
        return 0;
      case VmxOutcome.EntryFailed:
        failEntry(this.transitions, this.port);
        this.translation!.exitToHost(this.transitions.cpuState);
        return 0;
      default:
        return 0;
    }
  }

  /**
   * The checks that come before a memory operand is read (SDM order: #UD, VM exit in non-root
   * operation, #GP(0) at CPL > 0). The instruction functions repeat them; this keeps a fault on the
   * operand from overtaking them.
   */
  private precheck(op: VmxInstruction, o: VmxOperands): number {
    const s = this.state;
    const c = this.vcpu;
    const protectedMode = (c.cr0() & CR0_PE) !== 0 && !c.v86();
    if (op === VmxInstruction.Vmxon) {
      if (!protectedMode || (c.cr4() & CR4_VMXE) === 0) return UD;
    } else if (!s.inVmxOperation || (!protectedMode && op !== VmxInstruction.Vmcall)) {
      return UD;
    }
    if (s.inVmxOperation && s.nonRoot) {
      // INVEPT/INVVPID without the capability are #UD even in non-root operation: the functions decide.
      if (op === VmxInstruction.Invept || op === VmxInstruction.Invvpid) return 0;
      return this.vmxInstructionExit(op, o);
    }
    if (c.cpl() > 0) return GP;
    return 0;
  }

  private enter(launch: boolean): void {
    const cpu = this.attachedCpu();
    const t = this.transitions;
    this.hostTscOffset = cpu.tscOffset;
    if (enterGuest(t, this.port, launch) !== EntryResult.Entered) {
      this.translation!.exitToHost(t.cpuState);
      return;
    }
    const vmcs = this.state.vmcs;
    this.translation!.enterGuest(vmcs, t.cpuState);
    if ((vmcs.read32(F.ProcBasedControls) & ProcBased.UseTscOffsetting) !== 0) {
      cpu.tscOffset = this.hostTscOffset + vmcs.readHi(F.TscOffset) * 2 ** 32 + vmcs.readLo(F.TscOffset);
      if (vmcs.readHi(F.TscOffset) >= 0x8000_0000) cpu.tscOffset -= 2 ** 64;
    }
    if ((vmcs.read32(F.PinBasedControls) & PinBased.ExternalInterruptExiting) !== 0) {
      this.hostController = cpu.interruptController;
      cpu.interruptController = this.gate;
    }
    const proc = vmcs.read32(F.ProcBasedControls);
    this.hostWindow = cpu.interruptWindowExiting;
    cpu.interruptWindowExiting = (proc & ProcBased.InterruptWindowExiting) !== 0;
    this.nmiWindow = (proc & ProcBased.NmiWindowExiting) !== 0;
    const pin = vmcs.read32(F.PinBasedControls);
    this.virtualNmis = (pin & PinBased.VirtualNmis) !== 0;
    this.nmiBlockingHeld = (pin & PinBased.NmiExiting) !== 0 && !this.virtualNmis && cpu.nmiBlocked;
    this.timer.arm(vmcs, cpu.tscBase());
    // Hand control back to run() so it can slice the guest's run for the preemption timer (an
    // injection that ends in a triple fault replaces this with the shutdown).
    this.entered = true;
    cpu.requestStop();
    if (t.injected) this.inject(cpu);
  }

  /** Delivers the event of the VM-entry interruption-information field through the guest's IDT. */
  private inject(cpu: Cpu): void {
    const e = this.transitions.injection;
    // A fault while delivering it exits with the injected event as IDT-vectoring information, at the
    // guest's RIP (the CPU reports a faulting software event at `startIp`).
    this.remember(makeInterruptionInfo(e.vector, e.type, e.hasErrorCode), e.errorCode, e.instructionLength);
    cpu.startIp = cpu.regs.ip;
    this.injecting = true;
    this.deliverInjected(cpu);
    this.injecting = false;
  }

  private deliverInjected(cpu: Cpu): void {
    const e = this.transitions.injection;
    switch (e.type) {
      case InterruptionType.ExternalInterrupt:
      case InterruptionType.Nmi:
        cpu.halted = false;
        cpu.deliver(EventKind.External, e.vector, 0);
        return;
      case InterruptionType.HardwareException:
        cpu.deliver(EventKind.Exception, e.vector, e.hasErrorCode ? e.errorCode : 0);
        return;
      default:
        // Software interrupts and exceptions push RIP + the VM-entry instruction length.
        cpu.regs.ip = (cpu.regs.ip + e.instructionLength) >>> 0;
        cpu.deliver(EventKind.Software, e.vector, 0);
    }
  }

  writeCr(cr: 0 | 4, value: number): number {
    const s = this.state;
    const cpu = this.attachedCpu();
    this.crDecided = -1;
    let next = value >>> 0;
    if (s.inVmxOperation) {
      if (s.nonRoot) {
        const vmcs = s.vmcs;
        if (movToCrExits(vmcs, cr, value, 0)) {
          return this.noteExit(
            ExitReason.CrAccess,
            crAccessQualification(cr, CrAccessType.MovToCr, this.crGpr(cpu)),
          );
        }
        next = guestCrWrite(vmcs, cr, value, cr === 0 ? cpu.ctrl.cr0 : cpu.ctrl.cr4);
      }
      const fixed0 = cr === 0 ? this.caps.cr0Fixed0 : this.caps.cr4Fixed0;
      const fixed1 = cr === 0 ? this.caps.cr0Fixed1 : this.caps.cr4Fixed1;
      if ((~next & fixed0) !== 0 || (next & ~fixed1) !== 0) return GP;
    }
    this.crValue = next;
    this.crDecided = cr;
    return 0;
  }

  readCr(cr: 0 | 4, actual: number): number {
    return this.state.nonRoot ? guestCrRead(this.state.vmcs, cr, actual) : actual;
  }

  // ---- CPU hooks ----------------------------------------------------------------------------------

  portIn(port: number, size: 1 | 2 | 4): number {
    if (this.state.nonRoot && ioExits(this.state.vmcs, this.memory, port, size))
      return this.ioExit(port, size, true);
    const value = this.platform.portIn(port, size);
    this.stopForHeldNmi();
    return value;
  }

  portOut(port: number, size: 1 | 2 | 4, value: number): number {
    if (this.state.nonRoot && ioExits(this.state.vmcs, this.memory, port, size))
      return this.ioExit(port, size, false);
    const result = this.platform.portOut(port, size, value);
    this.stopForHeldNmi();
    return result;
  }

  mmioRead(gpa: number, size: 1 | 2 | 4): number {
    const value = this.platform.mmioRead(gpa, size);
    this.stopForHeldNmi();
    return value;
  }

  mmioWrite(gpa: number, size: 1 | 2 | 4, value: number): void {
    this.platform.mmioWrite(gpa, size, value);
    this.stopForHeldNmi();
  }

  cpuid(leaf: number, subleaf: number, out: CpuidResult): number {
    if (this.state.nonRoot) return this.noteExit(ExitReason.Cpuid, 0);
    return this.platform.cpuid(leaf, subleaf, out);
  }

  rdmsr(index: number, value: MsrValue): number {
    if (this.state.nonRoot && msrExits(this.state.vmcs, this.memory, index, false)) {
      return this.noteExit(ExitReason.Rdmsr, 0);
    }
    return this.platform.rdmsr(index, value);
  }

  wrmsr(index: number, value: MsrValue): number {
    if (this.state.nonRoot && msrExits(this.state.vmcs, this.memory, index, true)) {
      return this.noteExit(ExitReason.Wrmsr, 0);
    }
    const cpu = this.attachedCpu();
    // A locked IA32_FEATURE_CONTROL and the capability MSRs are read-only.
    if (index === IA32_FEATURE_CONTROL && (cpu.msrs.getLo(IA32_FEATURE_CONTROL) & FeatureControl.Lock) !== 0)
      return GP;
    if (index >= VmxMsr.Basic && index <= VmxMsr.VmFunc) return GP;
    return this.platform.wrmsr(index, value);
  }

  movToCr(cr: number, value: number): number {
    const decided = this.crDecided === cr;
    this.crDecided = -1;
    if (decided) return this.platform.movToCr(cr, value);
    if (this.state.nonRoot) {
      const vmcs = this.state.vmcs;
      const cpu = this.attachedCpu();
      if (cr === 3 && movToCr3Exits(vmcs, value, 0)) {
        return this.noteExit(
          ExitReason.CrAccess,
          crAccessQualification(3, CrAccessType.MovToCr, this.crGpr(cpu)),
        );
      }
      // CR0 without the MOV-CR wrapper's decision: LMSW.
      if (cr === 0 && lmswExits(vmcs, value & 0xf)) {
        return this.noteExit(ExitReason.CrAccess, lmswQualification(value, false));
      }
    }
    return this.platform.movToCr(cr, value);
  }

  hlt(): number {
    return this.sensitive('hlt', 0) ?? this.platform.hlt();
  }

  invlpg(linear: number): number {
    return this.sensitive('invlpg', linear) ?? this.platform.invlpg(linear);
  }

  rdtsc(): number {
    return this.sensitive('rdtsc', 0) ?? this.platform.rdtsc();
  }

  // ---- exits decided by hooks ---------------------------------------------------------------------

  private sensitive(instruction: SensitiveInstruction, qualification: number): number | undefined {
    if (!this.state.nonRoot) return undefined;
    const action = instructionAction(this.state.vmcs, instruction);
    if (action === InstructionAction.Execute) return undefined;
    if (action === InstructionAction.InvalidOpcode) return UD;
    return this.noteExit(INSTRUCTION_RULES[instruction].reason, qualification);
  }

  /** Notes the exit of the instruction being executed; `run` performs it once the CPU has stopped. */
  private noteExit(reason: number, qualification: number): number {
    const cpu = this.attachedCpu();
    const info = this.exit.reset(reason);
    info.qualificationLo = qualification >>> 0;
    const wrap = cpu.bitness === 16 ? 0xffff : 0xffff_ffff;
    info.instructionLength = ((cpu.regs.ip - cpu.startIp) & wrap) >>> 0;
    this.exitPending = true;
    return INTERCEPT;
  }

  private ioExit(port: number, size: 1 | 2 | 4, input: boolean): number {
    const cpu = this.attachedCpu();
    const n = currentInstructionBytes(cpu, this.bytes);
    let rep = false;
    let addressOverride = false;
    let segment: SegmentReg = SegmentReg.DS;
    let i = 0;
    while (i < n && isPrefix(this.bytes[i]!)) {
      const b = this.bytes[i]!;
      if (b === 0xf3 || b === 0xf2) rep = true;
      else if (b === 0x67) addressOverride = true;
      else segment = SEGMENT_PREFIX[b] ?? segment;
      i++;
    }
    const opcode = this.bytes[i] ?? 0;
    const string = opcode >= 0x6c && opcode <= 0x6f;
    const immediate = opcode >= 0xe4 && opcode <= 0xe7;
    const exit = this.noteExit(
      ExitReason.IoInstruction,
      ioQualification({ port, size, direction: input ? 'in' : 'out', string, rep: string && rep, immediate }),
    );
    if (string) {
      // Table 28-8: the address size, and the source segment of OUTS (INS always writes ES:[eDI]).
      const addressSize: AddressSize = (cpu.bitness === 16) !== addressOverride ? 16 : 32;
      const seg = input ? SegmentReg.ES : segment;
      this.exit.instructionInfo = insOutsInstructionInfo(addressSize, seg);
      // The guest-linear address of the memory operand (SDM 28.2.1): seg:[(E)SI] for OUTS, ES:[(E)DI]
      // for INS (SegmentReg numbers the segment registers as the CPU's Seg does).
      const index = cpu.regs.u32[input ? 7 : 6]!;
      const offset = addressSize === 16 ? index & 0xffff : index;
      this.exit.guestLinearLo = (cpu.segs.base[seg]! + offset) >>> 0;
    }
    return exit;
  }

  /** The general-purpose register of the MOV CR being executed (ModRM.rm of 0F 20/22). */
  private crGpr(cpu: Cpu): number {
    const n = currentInstructionBytes(cpu, this.bytes);
    let i = 0;
    while (i < n && isPrefix(this.bytes[i]!)) i++;
    return this.bytes[i] === 0x0f && i + 2 < n + 1 ? (this.bytes[i + 2] ?? 0) & 7 : 0;
  }

  // ---- ports to this package's state machines ------------------------------------------------------

  private makeVmxCpu(): VmxCpu {
    const cpu = (): Cpu => this.attachedCpu();
    return {
      cpl: () => {
        const c = cpu().ctrl;
        return c.mode === Mode.Real ? 0 : c.mode === Mode.V86 ? 3 : c.cpl;
      },
      cr0: () => cpu().ctrl.cr0,
      cr4: () => cpu().ctrl.cr4,
      v86: () => cpu().ctrl.mode === Mode.V86,
      // This CPU has no IA-32e mode.
      ia32e: () => false,
      mode64: () => false,
      featureControl: () => cpu().msrs.getLo(IA32_FEATURE_CONTROL),
      blockedByMovSs: () => false,
      setVmxFlags: (cf, zf) => {
        const c = cpu();
        c.eflags = ((c.eflags & ~ARITH_FLAGS) | (cf ? EFLAGS_CF : 0) | (zf ? EFLAGS_ZF : 0)) >>> 0;
      },
      memory: this.memory,
      invalidateEpt: () => this.translation?.invept(),
      invalidateVpid: (type, vpid, lo, hi) => this.translation?.invvpid(type, vpid, lo, hi),
    };
  }

  private makeTransitionPort(): TransitionPort {
    return {
      memory: this.memory,
      exportState: (s) => exportState(this.attachedCpu(), s),
      importState: (s) => importState(this.attachedCpu(), s),
      shutdown: () => this.attachedCpu().shutdown(),
      rdmsr: (index, out) => {
        const c = this.attachedCpu();
        if (index === Msr.TSC) {
          const t = c.tsc;
          out[0] = t % 2 ** 32;
          out[1] = Math.floor(t / 2 ** 32);
          return true;
        }
        const slot = c.msrs.find(index);
        if (slot < 0) return false;
        out[0] = c.msrs.lo[slot]!;
        out[1] = c.msrs.hi[slot]!;
        return true;
      },
      wrmsr: (index, lo, hi) => {
        const c = this.attachedCpu();
        if (index === Msr.TSC) {
          c.tscOffset = (hi >>> 0) * 2 ** 32 + (lo >>> 0) - c.tscBase();
          return true;
        }
        const slot = c.msrs.find(index);
        return slot >= 0 && c.msrs.write(slot, lo >>> 0, hi >>> 0);
      },
    };
  }
}

/** The segment-override prefixes, by byte (the last one of an instruction applies). */
const SEGMENT_PREFIX: Readonly<Record<number, SegmentReg>> = {
  38: SegmentReg.ES,
  46: SegmentReg.CS,
  54: SegmentReg.SS,
  62: SegmentReg.DS,
  100: SegmentReg.FS,
  101: SegmentReg.GS,
};

function isPrefix(b: number): boolean {
  return (
    b === 0x66 ||
    b === 0x67 ||
    b === 0xf2 ||
    b === 0xf3 ||
    b === 0xf0 ||
    b === 0x26 ||
    b === 0x2e ||
    b === 0x36 ||
    b === 0x3e ||
    b === 0x64 ||
    b === 0x65
  );
}

const msrLo = (cpu: Cpu, index: number): number => {
  const slot = cpu.msrs.find(index);
  return slot < 0 ? 0 : cpu.msrs.lo[slot]!;
};
const msrHi = (cpu: Cpu, index: number): number => {
  const slot = cpu.msrs.find(index);
  return slot < 0 ? 0 : cpu.msrs.hi[slot]!;
};

/** Copies the CPU's registers into the VMCS-format image. */
export function exportState(cpu: Cpu, s: ProcessorState): void {
  const c = cpu.ctrl;
  s.cr0 = c.cr0;
  s.cr3Lo = c.cr3;
  s.cr3Hi = 0;
  s.cr4 = c.cr4;
  s.dr7 = c.dr[7]!;
  s.debugctlLo = 0;
  s.debugctlHi = 0;
  s.rspLo = cpu.regs.u32[4]!;
  s.rspHi = 0;
  s.ripLo = cpu.regs.ip >>> 0;
  s.ripHi = 0;
  s.rflags = cpu.eflags >>> 0;
  const segs = cpu.segs;
  for (const [name, seg] of SEGMENTS) {
    const d: SegmentState = s[name];
    d.selector = segs.selector[seg]!;
    d.baseLo = segs.base[seg]!;
    d.baseHi = 0;
    d.limit = segs.limit[seg]!;
    d.ar = (segs.access[seg]! & ACCESS_VALID) === 0 ? AR_UNUSABLE : segs.attr[seg]! & 0xf0ff;
  }
  s.gdtrBaseLo = c.gdtr.base;
  s.gdtrBaseHi = 0;
  s.gdtrLimit = c.gdtr.limit;
  s.idtrBaseLo = c.idtr.base;
  s.idtrBaseHi = 0;
  s.idtrLimit = c.idtr.limit;
  s.sysenterCs = msrLo(cpu, Msr.SYSENTER_CS);
  s.sysenterEspLo = msrLo(cpu, Msr.SYSENTER_ESP);
  s.sysenterEspHi = 0;
  s.sysenterEipLo = msrLo(cpu, Msr.SYSENTER_EIP);
  s.sysenterEipHi = 0;
  s.efer = msrLo(cpu, Msr.EFER);
  s.patLo = msrLo(cpu, Msr.PAT);
  s.patHi = msrHi(cpu, Msr.PAT);
  s.pdptesLoaded = false;
  s.activityState = cpu.halted ? 1 : 0;
  s.interruptibility = (cpu.shadow ? 1 : 0) | (cpu.nmiBlocked ? 1 << 3 : 0);
  s.pendingDebugExceptions = 0;
}

/** Loads the VMCS-format image into the CPU's registers. */
export function importState(cpu: Cpu, s: ProcessorState): void {
  cpu.setControlRegisters(s.cr0, s.cr3Lo, s.cr4, s.efer);
  cpu.ctrl.dr[7] = s.dr7;
  cpu.regs.r32[4] = s.rspLo;
  cpu.regs.ip = s.ripLo >>> 0;
  const segs = cpu.segs;
  for (const [name, seg] of SEGMENTS) {
    const d: SegmentState = s[name];
    if ((d.ar & AR_UNUSABLE) !== 0) segs.setNull(seg, d.selector);
    else segs.set(seg, d.selector, d.baseLo, d.limit, d.ar & 0xf0ff);
  }
  cpu.ctrl.gdtr.base = s.gdtrBaseLo >>> 0;
  cpu.ctrl.gdtr.limit = s.gdtrLimit;
  cpu.ctrl.idtr.base = s.idtrBaseLo >>> 0;
  cpu.ctrl.idtr.limit = s.idtrLimit;
  setMsr(cpu, Msr.SYSENTER_CS, s.sysenterCs, 0);
  setMsr(cpu, Msr.SYSENTER_ESP, s.sysenterEspLo, 0);
  setMsr(cpu, Msr.SYSENTER_EIP, s.sysenterEipLo, 0);
  setMsr(cpu, Msr.EFER, s.efer, 0);
  setMsr(cpu, Msr.PAT, s.patLo, s.patHi);
  cpu.eflags = s.rflags >>> 0;
  const mode = cpu.ctrl.mode;
  cpu.ctrl.cpl = mode === Mode.Real ? 0 : mode === Mode.V86 ? 3 : (s.ss.ar >>> 5) & 3;
  cpu.halted = s.activityState === 1;
  cpu.shadow = (s.interruptibility & 3) !== 0;
  cpu.nmiBlocked = (s.interruptibility & (1 << 3)) !== 0;
}

function setMsr(cpu: Cpu, index: number, lo: number, hi: number): void {
  const slot = cpu.msrs.find(index);
  if (slot < 0) return;
  cpu.msrs.lo[slot] = lo >>> 0;
  cpu.msrs.hi[slot] = hi >>> 0;
}
