/**
 * A hypervisor written in guest code, on the bare CPU with a {@link VmxUnit}: it enables VMX, reads the
 * capability MSRs, programs a VMCS with VMWRITE, launches a nested 32-bit guest and handles its exits
 * with VMREAD / VMWRITE / VMRESUME. Plus the VMfail conventions, #UD / #GP, and the preemption timer.
 */
import { GuestMemory } from '@typevisor/memory';
import {
  CR0,
  Cpu,
  type CpuModel,
  CORE_2,
  CpuExit,
  type CpuEvents,
  type CpuHooks,
  NullHooks,
  EFLAGS,
  EventKind,
  PENTIUM_II,
  Seg,
  withVmx,
  xcr0Of,
} from '@typevisor/x86-cpu';
import { assemble, CpuidFeature } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExitReason, VmInstructionError, VmxAbort } from './exit-reasons.js';
import { readAbortIndicator } from './vmcs.js';
import { ioQualification } from './exit-info.js';
import { VmcsField as F } from './fields.js';
import { IA32_FEATURE_CONTROL, VmxUnit } from './vmx-unit.js';

const GDT = 0x500;
const TSS = 0x6000;
const HOST_CODE = 0x1000;
const GUEST_CODE = 0x8000;
const HOST_STACK = 0x7000;
const GUEST_STACK = 0xa000;
const PAGE_DIR = 0x10000;
const VMXON_REGION = 0x20000;
const VMCS_A = 0x21000;
const VMCS_B = 0x22000;
/** Results area: [LOG] count, then 16-byte records (reason, qualification, length, guest EAX). */
const LOG = 0x30000;
const POINTERS = 0x30100;
const SCRATCH = 0x30200;
const RESULT = 0x30300;
const GUEST_OUT = 0xb000;

const CODE32_AR = 0xc09b;
const DATA32_AR = 0xc093;
const TSS_BUSY_AR = 0x8b;

interface Machine {
  readonly memory: GuestMemory;
  readonly cpu: Cpu;
  readonly unit: VmxUnit;
  readonly events: { kind: number; vector: number }[];
}

/** 32-bit flat protected mode at CPL 0 with a GDT (code 08, data 10, code DPL3 2B, data DPL3 33, TSS 38). */
function machine(
  source: string,
  vmx = true,
  hooks: CpuHooks = new NullHooks(),
  model: CpuModel = withVmx(PENTIUM_II),
): Machine {
  const memory = GuestMemory.create(4 << 20);
  const events: { kind: number; vector: number }[] = [];
  const observer: CpuEvents = { delivered: (kind, vector) => events.push({ kind, vector }) };
  const unit = new VmxUnit(memory, { hooks });
  const cpu = vmx
    ? new Cpu(memory, { hooks: unit, model, events: observer })
    : new Cpu(memory, { events: observer });
  if (vmx) unit.attach(cpu);
  const bytes = memory.regions()[0]!.bytes;
  bytes.set(assemble(source, { bitness: 32, origin: HOST_CODE }), HOST_CODE);
  const gdt: [number, number][] = [
    [0, 0],
    [0x0000ffff, 0x00cf9a00],
    [0x0000ffff, 0x00cf9200],
    [0, 0],
    [0, 0],
    [0x0000ffff, 0x00cffa00],
    [0x0000ffff, 0x00cff200],
    [(TSS << 16) | 0x67, 0x00008b00],
  ];
  gdt.forEach(([lo, hi], i) => {
    memory.write32(GDT + i * 8, lo);
    memory.write32(GDT + i * 8 + 4, hi);
  });
  // One 4-MiB identity page: VMX operation needs CR0.PG (IA32_VMX_CR0_FIXED0).
  memory.write32(PAGE_DIR, 0x87);
  cpu.ctrl.gdtr.base = GDT;
  cpu.ctrl.gdtr.limit = gdt.length * 8 - 1;
  cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0);
  cpu.segs.set(Seg.CS, 0x08, 0, 0xffffffff, CODE32_AR);
  for (const s of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) cpu.segs.set(s, 0x10, 0, 0xffffffff, DATA32_AR);
  cpu.segs.set(Seg.TR, 0x38, TSS, 0x67, TSS_BUSY_AR);
  cpu.regs.ip = HOST_CODE;
  cpu.regs.r32[4] = HOST_STACK;
  cpu.eflags = EFLAGS.FIXED1;
  return { memory, cpu, unit, events };
}

/** VMWRITE of an immediate to a field. */
const w = (field: number, value: number | string): string => `
    mov ebx, ${field}
    mov eax, ${value}
    vmwrite ebx, eax`;

/** VMWRITE of a control field: `desired` adjusted by the capability MSR (allowed-0 OR, allowed-1 AND). */
const ctl = (field: number, msr: number, desired: number): string => `
    mov ecx, ${msr}
    rdmsr
    or eax, ${desired}
    and eax, edx
    mov ebx, ${field}
    vmwrite ebx, eax`;

/** Paging, IA32_FEATURE_CONTROL (lock + VMX outside SMX), CR4.VMXE, revision ids, VMXON. */
const ENABLE_VMX = `
    mov eax, ${PAGE_DIR}
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000020
    mov cr0, eax
    mov ecx, ${IA32_FEATURE_CONTROL}
    rdmsr
    or eax, 5
    wrmsr
    mov eax, cr4
    or eax, 0x2000
    mov cr4, eax
    mov ecx, 0x480
    rdmsr
    mov [${VMXON_REGION}], eax
    mov [${VMCS_A}], eax
    mov [${VMCS_B}], eax
    mov dword [${POINTERS}], ${VMXON_REGION}
    mov dword [${POINTERS + 4}], 0
    mov dword [${POINTERS + 8}], ${VMCS_A}
    mov dword [${POINTERS + 12}], 0
    mov dword [${POINTERS + 16}], ${VMCS_B}
    mov dword [${POINTERS + 20}], 0
    vmxon [${POINTERS}]`;

/** Host state, guest state (flat 32-bit protected mode with paging) and controls. */
function programVmcs(guestRip: number, pin: number, proc: number, exit: number): string {
  return `
    ${ctl(F.PinBasedControls, 0x481, pin)}
    ${ctl(F.ProcBasedControls, 0x482, proc)}
    ${ctl(F.ExitControls, 0x483, exit)}
    ${ctl(F.EntryControls, 0x484, 0)}
    ${w(F.HostCr0, 0x80000031)}
    ${w(F.HostCr3, PAGE_DIR)}
    ${w(F.HostCr4, 0x2010)}
    ${w(F.HostCsSelector, 0x08)}
    ${w(F.HostSsSelector, 0x10)}
    ${w(F.HostDsSelector, 0x10)}
    ${w(F.HostEsSelector, 0x10)}
    ${w(F.HostFsSelector, 0x10)}
    ${w(F.HostGsSelector, 0x10)}
    ${w(F.HostTrSelector, 0x38)}
    ${w(F.HostTrBase, TSS)}
    ${w(F.HostGdtrBase, GDT)}
    ${w(F.HostRsp, HOST_STACK)}
    ${w(F.HostRip, 'exit_handler')}
    ${w(F.GuestCr0, 0x80000031)}
    ${w(F.GuestCr3, PAGE_DIR)}
    ${w(F.GuestCr4, 0x2010)}
    ${w(F.GuestDr7, 0x400)}
    ${w(F.GuestRsp, GUEST_STACK)}
    ${w(F.GuestRip, guestRip)}
    ${w(F.GuestRflags, 2)}
    ${w(F.GuestCsSelector, 0x08)}
    ${w(F.GuestCsLimit, 0xffffffff)}
    ${w(F.GuestCsAccessRights, CODE32_AR)}
    ${[F.GuestSsSelector, F.GuestDsSelector, F.GuestEsSelector, F.GuestFsSelector, F.GuestGsSelector]
      .map((f) => w(f, 0x10))
      .join('')}
    ${[F.GuestSsLimit, F.GuestDsLimit, F.GuestEsLimit, F.GuestFsLimit, F.GuestGsLimit]
      .map((f) => w(f, 0xffffffff))
      .join('')}
    ${[
      F.GuestSsAccessRights,
      F.GuestDsAccessRights,
      F.GuestEsAccessRights,
      F.GuestFsAccessRights,
      F.GuestGsAccessRights,
    ]
      .map((f) => w(f, DATA32_AR))
      .join('')}
    ${w(F.GuestLdtrAccessRights, 0x10000)}
    ${w(F.GuestTrSelector, 0x38)}
    ${w(F.GuestTrBase, TSS)}
    ${w(F.GuestTrLimit, 0x67)}
    ${w(F.GuestTrAccessRights, TSS_BUSY_AR)}
    ${w(F.GuestGdtrBase, GDT)}
    ${w(F.GuestGdtrLimit, 0x3f)}
    ${w(F.VmcsLinkPointer, 0xffffffff)}
    ${w(F.VmcsLinkPointer + 1, 0xffffffff)}`;
}

/** Stores RFLAGS and the VM-instruction error of the instruction just executed at `at`, `at + 4`. */
const record = (at: number): string => `
    pushfd
    pop eax
    mov [${at}], eax
    mov ebx, ${F.VmInstructionError}
    vmread eax, ebx
    mov [${at + 4}], eax`;

const HLT_EXITING = 1 << 7;
const UNCONDITIONAL_IO = 1 << 24;
const PREEMPTION_TIMER = 1 << 6;
const SAVE_PREEMPTION_TIMER = 1 << 22;
const EXTERNAL_INTERRUPT_EXITING = 1 << 0;
const ACK_INTERRUPT_ON_EXIT = 1 << 15;
const ACTIVATE_SECONDARY = 1 << 31;
const ENABLE_EPT = 1 << 1;
const USE_MSR_BITMAPS = 1 << 28;
const USE_TSC_OFFSETTING = 1 << 3;

/** The exit handler: logs reason, qualification, length and the guest's EAX; emulates CPUID; resumes. */
const EXIT_HANDLER = `
  exit_handler:
    mov [${SCRATCH}], eax
    mov esi, [${LOG}]
    shl esi, 4
    mov ebx, ${F.ExitReason}
    vmread eax, ebx
    mov [${LOG + 16}+esi], eax
    mov ecx, eax
    mov ebx, ${F.ExitQualification}
    vmread eax, ebx
    mov [${LOG + 20}+esi], eax
    mov ebx, ${F.ExitInstructionLength}
    vmread eax, ebx
    mov [${LOG + 24}+esi], eax
    mov eax, [${SCRATCH}]
    mov [${LOG + 28}+esi], eax
    inc dword [${LOG}]
    cmp ecx, ${ExitReason.Vmcall}
    je done
    cmp ecx, ${ExitReason.PreemptionTimerExpired}
    je done
    cmp ecx, ${ExitReason.TripleFault}
    je done
    cmp ecx, ${ExitReason.ExternalInterrupt}
    je done
    cmp ecx, ${ExitReason.Cpuid}
    jne advance
    mov dword [${SCRATCH + 8}], 0x4c31
  advance:
    mov ebx, ${F.GuestRip}
    vmread eax, ebx
    mov edx, ${F.ExitInstructionLength}
    vmread edx, edx
    add eax, edx
    vmwrite ebx, eax
    mov ebx, [${SCRATCH + 8}]
    mov eax, [${SCRATCH}]
    vmresume
    mov dword [${RESULT}], 0xbad2
    hlt
  done:
    mov ebx, ${F.PreemptionTimerValue}
    vmread eax, ebx
    mov [${RESULT + 8}], eax
    vmxoff
    mov dword [${RESULT + 4}], 1
    hlt`;

function exitLog(m: Machine): { reason: number; qualification: number; length: number; eax: number }[] {
  const n = m.memory.read32(LOG);
  return Array.from({ length: n }, (_, i) => ({
    reason: m.memory.read32(LOG + 16 + i * 16),
    qualification: m.memory.read32(LOG + 20 + i * 16),
    length: m.memory.read32(LOG + 24 + i * 16),
    eax: m.memory.read32(LOG + 28 + i * 16),
  }));
}

function runHypervisor(host: string, guest: string, hooks?: CpuHooks, model?: CpuModel): Machine {
  const m = machine(host, true, hooks, model);
  m.memory.regions()[0]!.bytes.set(assemble(guest, { bitness: 32, origin: GUEST_CODE }), GUEST_CODE);
  return m;
}

describe('a hypervisor in guest code', () => {
  const host = `
    ${ENABLE_VMX}
    vmclear [${POINTERS + 8}]
    vmptrld [${POINTERS + 8}]
    ${programVmcs(GUEST_CODE, 0, HLT_EXITING | UNCONDITIONAL_IO, 0)}
    vmlaunch
    mov dword [${RESULT}], 0xbad1
    ${record(RESULT + 16)}
    hlt
    ${EXIT_HANDLER}`;
  const guest = `
    xor eax, eax
    cpuid
    mov [${GUEST_OUT}], ebx
    mov al, 0x42
    out 0x80, al
    mov dx, 0x3f8
    out dx, al
    hlt
    vmcall`;

  it('launches a nested guest and handles its CPUID, OUT, HLT and VMCALL exits', () => {
    const m = runHypervisor(host, guest);
    const why = m.unit.run(100_000);
    expect(m.memory.read32(RESULT)).toBe(0);
    expect(why).toBe(CpuExit.Hlt);
    expect(m.memory.read32(RESULT + 4)).toBe(1);
    expect(exitLog(m)).toEqual([
      { reason: ExitReason.Cpuid, qualification: 0, length: 2, eax: 0 },
      {
        reason: ExitReason.IoInstruction,
        qualification: ioQualification({ port: 0x80, size: 1, direction: 'out', immediate: true }),
        length: 2,
        eax: 0x42,
      },
      {
        reason: ExitReason.IoInstruction,
        qualification: ioQualification({ port: 0x3f8, size: 1, direction: 'out' }),
        length: 1,
        eax: 0x42,
      },
      { reason: ExitReason.Hlt, qualification: 0, length: 1, eax: 0x42 },
      { reason: ExitReason.Vmcall, qualification: 0, length: 3, eax: 0x42 },
    ]);
    // The nested guest saw the CPUID answer its hypervisor emulated.
    expect(m.memory.read32(GUEST_OUT)).toBe(0x4c31);
    expect(m.unit.state.inVmxOperation).toBe(false);
    expect(m.unit.exitCounts[ExitReason.IoInstruction]).toBe(2);
  });

  it('saves the guest state to the VMCS and loads the host state on a VM exit (SDM 28.3, 28.5)', () => {
    const m = runHypervisor(host.replace('vmxoff', 'hlt'), guest);
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const vmcs = m.unit.state.vmcs;
    // The guest RIP saved by the VMCALL exit is the VMCALL's own address.
    const vmcallAt =
      GUEST_CODE +
      assemble(guest.slice(0, guest.indexOf('vmcall')), { bitness: 32, origin: GUEST_CODE }).length;
    expect(vmcs.read32(F.GuestRip)).toBe(vmcallAt);
    expect(vmcs.read32(F.GuestRsp)).toBe(GUEST_STACK);
    expect(vmcs.read32(F.GuestCsSelector)).toBe(0x08);
    expect(m.cpu.regs.r32[4]).toBe(HOST_STACK);
    expect(m.cpu.segs.selector[Seg.TR]).toBe(0x38);
    expect(m.unit.state.nonRoot).toBe(false);
  });
});

describe('VMfail conventions', () => {
  const flagsOf = (m: Machine, at: number): { cf: boolean; zf: boolean; error: number } => {
    const f = m.memory.read32(at);
    return { cf: (f & 1) !== 0, zf: (f & 0x40) !== 0, error: m.memory.read32(at + 4) };
  };

  it('reports VMfailInvalid without a current VMCS and VMfailValid with the SDM error numbers', () => {
    const m = machine(`
      ${ENABLE_VMX}
      ${record(RESULT)}
      mov ebx, ${F.GuestRip}
      vmread eax, ebx
      pushfd
      pop eax
      mov [${RESULT + 8}], eax
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      vmresume
      ${record(RESULT + 16)}
      vmlaunch
      ${record(RESULT + 24)}
      ${programVmcs(0x8000, 0, 0, 0)}
      ${w(F.HostCr0, 0x31)}
      vmlaunch
      ${record(RESULT + 32)}
      vmxon [${POINTERS}]
      ${record(RESULT + 40)}
      mov dword [${VMCS_B}], 0x1234
      vmptrld [${POINTERS + 16}]
      ${record(RESULT + 48)}
      vmcall
      ${record(RESULT + 56)}
      hlt
    exit_handler:
      hlt`);
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    // VMXON succeeded: CF = ZF = 0.
    expect(flagsOf(m, RESULT).cf).toBe(false);
    expect(flagsOf(m, RESULT).zf).toBe(false);
    // VMREAD with no current VMCS: VMfailInvalid (CF = 1).
    expect(m.memory.read32(RESULT + 8) & 0x41).toBe(1);
    // VMRESUME of a clear VMCS: error 5.
    expect(flagsOf(m, RESULT + 16)).toEqual({
      cf: false,
      zf: true,
      error: VmInstructionError.VmresumeNonLaunchedVmcs,
    });
    // VMLAUNCH with all-zero controls: error 7 (invalid control fields).
    expect(flagsOf(m, RESULT + 24)).toEqual({
      cf: false,
      zf: true,
      error: VmInstructionError.EntryInvalidControlFields,
    });
    // Valid controls, host CR0 without PG/NE: error 8 (invalid host-state fields).
    expect(flagsOf(m, RESULT + 32)).toEqual({
      cf: false,
      zf: true,
      error: VmInstructionError.EntryInvalidHostStateFields,
    });
    expect(flagsOf(m, RESULT + 40).error).toBe(VmInstructionError.VmxonInRoot);
    expect(flagsOf(m, RESULT + 48).error).toBe(VmInstructionError.VmptrldIncorrectRevisionId);
    expect(flagsOf(m, RESULT + 56).error).toBe(VmInstructionError.VmcallInRoot);
  });

  it('fails VMLAUNCH of a launched VMCS with error 4', () => {
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, 0, 0, 0)}
      vmlaunch
      hlt
    exit_handler:
      vmlaunch
      ${record(RESULT)}
      hlt`,
      'vmcall',
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(m.memory.read32(RESULT) & 0x41).toBe(0x40);
    expect(m.memory.read32(RESULT + 4)).toBe(VmInstructionError.VmlaunchNonClearVmcs);
  });
});

describe('#UD and #GP', () => {
  /** Runs until the first delivered event and returns its vector (-1: none). */
  function firstFault(m: Machine): number {
    if (m.cpu.hooks === m.unit) m.unit.run(10_000);
    else m.cpu.run(10_000);
    return m.events[0]?.kind === EventKind.Exception ? m.events[0].vector : -1;
  }

  it('VMXON is #UD with CR4.VMXE = 0', () => {
    const m = machine(`vmxon [${POINTERS}]`);
    expect(firstFault(m)).toBe(6);
  });

  it('VMXON is #UD in real mode even with CR4.VMXE = 1', () => {
    const m = machine('hlt');
    m.memory
      .regions()[0]!
      .bytes.set(assemble('vmxon [0x3000]', { bitness: 16, origin: HOST_CODE }), HOST_CODE);
    m.cpu.setControlRegisters(CR0.ET, 0, 0x2000);
    for (const s of [Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) m.cpu.segs.set(s, 0, 0, 0xffff, 0x93);
    expect(firstFault(m)).toBe(6);
  });

  it('VMREAD, VMLAUNCH and VMCALL are #UD outside VMX operation', () => {
    for (const ins of ['vmread eax, ebx', 'vmlaunch', 'vmcall', 'vmxoff']) {
      expect(firstFault(machine(ins))).toBe(6);
    }
  });

  it('every VMX instruction is #UD on a CPU without a VMX unit, and CR4.VMXE cannot be set', () => {
    expect(firstFault(machine(`vmxon [${POINTERS}]`, false))).toBe(6);
    const m = machine('mov eax, 0x2000\nmov cr4, eax', false);
    m.cpu.run(10);
    expect(m.events[0]?.vector).toBe(13);
  });

  it('VMXON is #GP(0) while IA32_FEATURE_CONTROL is unlocked or has VMX disabled', () => {
    const unlocked = machine(ENABLE_VMX.replace('or eax, 5', 'or eax, 4'));
    expect(firstFault(unlocked)).toBe(13);
    const disabled = machine(ENABLE_VMX.replace('or eax, 5', 'or eax, 1'));
    expect(firstFault(disabled)).toBe(13);
  });

  it('a locked IA32_FEATURE_CONTROL is read-only (#GP on WRMSR)', () => {
    const m = machine(`
      mov ecx, ${IA32_FEATURE_CONTROL}
      mov eax, 5
      xor edx, edx
      wrmsr
      mov eax, 1
      wrmsr`);
    expect(firstFault(m)).toBe(13);
    expect(m.cpu.msrs.getLo(IA32_FEATURE_CONTROL)).toBe(5);
  });

  it('VMXON at CPL 3 is #GP(0); clearing CR4.VMXE in VMX operation is #GP(0)', () => {
    const user = machine(`
      ${ENABLE_VMX.replace(`vmxon [${POINTERS}]`, '')}
      push 0x33
      push ${HOST_STACK - 0x100}
      push 2
      push 0x2b
      push user
      iretd
    user:
      vmxon [${POINTERS}]`);
    expect(firstFault(user)).toBe(13);
    const clear = machine(`
      ${ENABLE_VMX}
      mov eax, cr4
      and eax, 0xffffdfff
      mov cr4, eax`);
    expect(firstFault(clear)).toBe(13);
    expect(clear.cpu.ctrl.cr4 & 0x2000).toBe(0x2000);
  });
});

describe('the VMX-preemption timer', () => {
  it('exits with reason 52 after value * 2^rate TSC ticks and saves the count 0', () => {
    const ticks = 40;
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, PREEMPTION_TIMER, 0, SAVE_PREEMPTION_TIMER)}
      ${w(F.PreemptionTimerValue, ticks)}
      vmlaunch
      mov dword [${RESULT}], 0xbad1
      hlt
      ${EXIT_HANDLER}`,
      'xor edi, edi\nspin:\ninc edi\njmp spin',
    );
    const why = m.unit.run(1_000_000);
    expect(why).toBe(CpuExit.Hlt);
    const log = exitLog(m);
    expect(log.map((e) => e.reason)).toEqual([ExitReason.PreemptionTimerExpired]);
    expect(m.memory.read32(RESULT + 8)).toBe(0);
    // The guest ran for the timer's span: between (value - 1) and value periods of 2^5 instructions
    // (the TSC counts instructions; each loop iteration is two).
    const iterations = m.cpu.regs.u32[7]!;
    expect(iterations).toBeGreaterThanOrEqual(((ticks - 1) * 32) / 2 - 2);
    expect(iterations).toBeLessThanOrEqual((ticks * 32) / 2);
  });

  it('saves the remaining count on another exit when "save VMX-preemption timer value" is 1', () => {
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, PREEMPTION_TIMER, 0, SAVE_PREEMPTION_TIMER)}
      ${w(F.PreemptionTimerValue, 1000)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`,
      'vmcall',
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(exitLog(m).map((e) => e.reason)).toEqual([ExitReason.Vmcall]);
    const saved = m.memory.read32(RESULT + 8);
    expect(saved).toBeGreaterThanOrEqual(999);
    expect(saved).toBeLessThanOrEqual(1000);
  });

  it('a count of 0 exits before the guest executes an instruction', () => {
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, PREEMPTION_TIMER, 0, 0)}
      ${w(F.PreemptionTimerValue, 0)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`,
      'mov dword [0xb000], 1\nvmcall',
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(exitLog(m).map((e) => e.reason)).toEqual([ExitReason.PreemptionTimerExpired]);
    expect(m.memory.read32(GUEST_OUT)).toBe(0);
  });
});

describe('triple fault and CR access in non-root operation', () => {
  it('a triple fault in the nested guest is a VM exit with reason 2', () => {
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, 0, 0, 0)}
      ${w(F.GuestIdtrLimit, 0)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`,
      'ud2',
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const log = exitLog(m);
    expect(log[0]?.reason).toBe(ExitReason.TripleFault);
  });

  it('MOV to CR4 of a host-owned bit that differs from the read shadow exits; reads see the shadow', () => {
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, 0, 0, 0)}
      ${w(F.Cr4GuestHostMask, 0x2000)}
      ${w(F.Cr4ReadShadow, 0)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`,
      `
      mov eax, cr4
      mov [${GUEST_OUT}], eax
      mov ecx, eax
      or ecx, 0x2000
      mov cr4, ecx
      vmcall`,
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    // The guest reads CR4 with VMXE from the shadow (0).
    expect(m.memory.read32(GUEST_OUT)).toBe(0x10);
    const log = exitLog(m);
    expect(log.map((e) => e.reason)).toEqual([ExitReason.CrAccess, ExitReason.Vmcall]);
    // MOV to CR4 from ECX: CR number 4, access type 0, register 1.
    expect(log[0]?.qualification).toBe(4 | (1 << 8));
  });
});

describe('external interrupts in non-root operation', () => {
  it('exit with reason 1 when "external-interrupt exiting" is 1, acknowledged on exit when asked', () => {
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, EXTERNAL_INTERRUPT_EXITING, 0, ACK_INTERRUPT_ON_EXIT)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`,
      'spin:\njmp spin',
    );
    let acks = 0;
    const controller = {
      acknowledge: () => {
        acks++;
        return 0x31;
      },
    };
    m.cpu.interruptController = controller;
    // The host runs with IF = 0: the line stays pending until the guest runs.
    m.cpu.setIntr(true);
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(exitLog(m).map((e) => e.reason)).toEqual([ExitReason.ExternalInterrupt]);
    expect(acks).toBe(1);
    expect(m.unit.state.vmcs.read32(F.ExitInterruptionInfo)).toBe(0x8000_0031);
    // The guest never took it through its own IDT.
    expect(m.events).toEqual([]);
    // The VM exit handed the host its interrupt controller back.
    expect(m.cpu.interruptController).toBe(controller);
  });
});

describe('EPT in non-root operation', () => {
  it('a guest access to a guest-physical address the EPT does not map is an EPT violation (reason 48)', () => {
    const EPT = 0x40000;
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, 0, ACTIVATE_SECONDARY, 0)}
      ${ctl(F.SecondaryProcBasedControls, 0x48b, ENABLE_EPT)}
      ${w(F.EptPointer, EPT | 6 | (3 << 3))}
      ${w(F.EptPointer + 1, 0)}
      vmlaunch
      mov dword [${RESULT}], 0xbad1
      hlt
      ${EXIT_HANDLER.replace(`cmp ecx, ${ExitReason.Vmcall}`, `cmp ecx, ${ExitReason.EptViolation}\n    je done\n    cmp ecx, ${ExitReason.Vmcall}`)}`,
      `
      mov dword [0x2000], 7
      mov eax, [0x300010]
      vmcall`,
    );
    // EPT: PML4[0] -> PDPT[0] -> PD[0], one 2-MiB page at guest-physical 0 (read/write/execute, WB).
    m.memory.write32(EPT, (EPT + 0x1000) | 7);
    m.memory.write32(EPT + 0x1000, (EPT + 0x2000) | 7);
    m.memory.write32(EPT + 0x2000, 0x87 | (6 << 3));
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(m.memory.read32(RESULT)).toBe(0);
    // The store inside the mapped 2 MiB went through; the load at 3 MiB exited.
    expect(m.memory.read32(0x2000)).toBe(7);
    expect(exitLog(m).map((e) => e.reason)).toEqual([ExitReason.EptViolation]);
    const vmcs = m.unit.state.vmcs;
    expect(vmcs.read32(F.GuestPhysicalAddress)).toBe(0x300010);
    expect(vmcs.read32(F.GuestLinearAddress)).toBe(0x300010);
    // A data read (bit 0); the guest-linear address is valid (bit 7) and translated (bit 8).
    expect(vmcs.read32(F.ExitQualification) & 0x187).toBe(0x181);
    expect(vmcs.read32(F.GuestRip)).toBe(GUEST_CODE + 10);
  });
});

describe('VM-exit MSR areas', () => {
  it('stores the guest MSRs the VM-exit MSR-store area names; an MSR it cannot read is a VMX abort', () => {
    const AREA = 0x31000;
    const host = (count: number): string => `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, 0, 0, 0)}
      ${w(F.ExitMsrStoreAddress, AREA)}
      ${w(F.ExitMsrStoreCount, count)}
      ${w(F.GuestIa32SysenterCs, 0x23)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`;
    const good = runHypervisor(host(1), 'vmcall');
    good.memory.write32(AREA, 0x174); // IA32_SYSENTER_CS
    expect(good.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(exitLog(good).map((e) => e.reason)).toEqual([ExitReason.Vmcall]);
    expect(good.memory.read32(AREA + 8)).toBe(0x23);

    const bad = runHypervisor(host(1), 'vmcall');
    bad.memory.write32(AREA, 0x1234_5678); // no such MSR
    expect(bad.unit.run(100_000)).toBe(CpuExit.Shutdown);
    expect(exitLog(bad)).toEqual([]);
    expect(readAbortIndicator(bad.memory, VMCS_A)).toBe(VmxAbort.SavingGuestMsrs);
  });
});

describe('MSR bitmaps and TSC offsetting', () => {
  it('RDMSR exits only for MSRs whose read bit is set; RDTSC returns the TSC plus the offset', () => {
    const BITMAP = 0x32000;
    const m = runHypervisor(
      `
      ${ENABLE_VMX}
      vmclear [${POINTERS + 8}]
      vmptrld [${POINTERS + 8}]
      ${programVmcs(GUEST_CODE, 0, USE_MSR_BITMAPS | USE_TSC_OFFSETTING, 0)}
      ${w(F.MsrBitmap, BITMAP)}
      ${w(F.TscOffset, 0)}
      ${w(F.TscOffset + 1, 0x100)}
      vmlaunch
      hlt
      ${EXIT_HANDLER}`,
      `
      mov ecx, 0x175
      rdmsr
      mov ecx, 0x174
      rdmsr
      rdtsc
      mov [${GUEST_OUT}], edx
      vmcall`,
    );
    // Read bitmap for MSRs 0-1FFFH: bit 0x174 set.
    m.memory.write32(BITMAP + (0x174 >>> 5) * 4, 1 << (0x174 & 31));
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(exitLog(m).map((e) => e.reason)).toEqual([ExitReason.Rdmsr, ExitReason.Vmcall]);
    // The guest's TSC is the host's plus 0x100_00000000; the host's own TSC is unchanged after the exit.
    expect(m.memory.read32(GUEST_OUT)).toBe(0x100);
    expect(m.cpu.tscOffset).toBe(0);
  });
});

// ---- event-related exits: exception bitmap, NMI, IDT vectoring, windows, MOV DR, descriptor tables ----

const RECORDS = 0x34000;
/** What the recording handler stores per exit (4 bytes each, 64-byte records after a count at RECORDS). */
const RECORDED = [
  F.ExitReason,
  F.ExitQualification,
  F.ExitInstructionLength,
  F.ExitInstructionInfo,
  F.ExitInterruptionInfo,
  F.ExitInterruptionErrorCode,
  F.IdtVectoringInfo,
  F.IdtVectoringErrorCode,
  F.GuestRip,
  F.GuestInterruptibilityState,
  F.GuestLinearAddress,
] as const;

interface Recorded {
  reason: number;
  qualification: number;
  length: number;
  instructionInfo: number;
  interruptionInfo: number;
  interruptionErrorCode: number;
  idtVectoringInfo: number;
  idtVectoringErrorCode: number;
  guestRip: number;
  interruptibility: number;
  guestLinear: number;
}

/**
 * An exit handler that records {@link RECORDED} for every exit, resumes after the instruction for the
 * exit reasons in `resume`, and stops (HLT in root operation) on any other.
 */
function recordingHandler(resume: readonly number[]): string {
  return `
  exit_handler:
    mov esi, [${RECORDS}]
    shl esi, 6
    ${RECORDED.map((f, i) => `mov ebx, ${f}\n    vmread eax, ebx\n    mov [${RECORDS + 16 + i * 4}+esi], eax`).join('\n    ')}
    inc dword [${RECORDS}]
    mov ebx, ${F.ExitReason}
    vmread ecx, ebx
    ${resume.map((r) => `cmp ecx, ${r}\n    je advance`).join('\n    ')}
    hlt
  advance:
    mov ebx, ${F.GuestRip}
    vmread eax, ebx
    mov edx, ${F.ExitInstructionLength}
    vmread edx, edx
    add eax, edx
    vmwrite ebx, eax
    vmresume
    hlt`;
}

function records(m: Machine): Recorded[] {
  const n = m.memory.read32(RECORDS);
  return Array.from({ length: n }, (_, i) => {
    const at = (k: number): number => m.memory.read32(RECORDS + 16 + i * 64 + k * 4);
    return {
      reason: at(0),
      qualification: at(1),
      length: at(2),
      instructionInfo: at(3),
      interruptionInfo: at(4),
      interruptionErrorCode: at(5),
      idtVectoringInfo: at(6),
      idtVectoringErrorCode: at(7),
      guestRip: at(8),
      interruptibility: at(9),
      guestLinear: at(10),
    };
  });
}

/** A hypervisor that launches GUEST_CODE with the given controls plus `extra` VMCS writes. */
function eventHypervisor(
  guest: string,
  controls: {
    pin?: number;
    proc?: number;
    proc2?: number;
    extra?: string;
    resume?: readonly number[];
    model?: CpuModel;
  },
  hooks?: CpuHooks,
): Machine {
  const proc2 = controls.proc2 ?? 0;
  return runHypervisor(
    `
    ${ENABLE_VMX}
    vmclear [${POINTERS + 8}]
    vmptrld [${POINTERS + 8}]
    ${programVmcs(GUEST_CODE, controls.pin ?? 0, (controls.proc ?? 0) | (proc2 !== 0 ? ACTIVATE_SECONDARY : 0), 0)}
    ${proc2 !== 0 ? ctl(F.SecondaryProcBasedControls, 0x48b, proc2) : ''}
    ${controls.extra ?? ''}
    vmlaunch
    mov dword [${RESULT}], 0xbad1
    ${record(RESULT + 16)}
    hlt
    ${recordingHandler(controls.resume ?? [])}`,
    guest,
    hooks,
    controls.model,
  );
}

/** Address of the guest instruction that follows `prefix` (assembled at GUEST_CODE). */
const guestAt = (prefix: string): number =>
  GUEST_CODE + assemble(prefix, { bitness: 32, origin: GUEST_CODE }).length;

const NMI_EXITING = 1 << 3;
const VIRTUAL_NMIS = 1 << 5;
const INTERRUPT_WINDOW_EXITING = 1 << 2;
const NMI_WINDOW_EXITING = 1 << 22;
const MOV_DR_EXITING = 1 << 23;
const DESCRIPTOR_TABLE_EXITING = 1 << 2;
/** An interruption-information value with the valid bit (bit 31). */
const valid = (bits: number): number => (0x8000_0000 | bits) >>> 0;
const ERROR_CODE_VALID = 1 << 11;

describe('exceptions through the exception bitmap (exit reason 0)', () => {
  it('#UD whose bitmap bit is set exits with a hardware-exception interruption information, not through the guest IDT', () => {
    const m = eventHypervisor('nop\nud2', { extra: w(F.ExceptionBitmap, 1 << 6) });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(m.memory.read32(RESULT)).toBe(0);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      qualification: 0,
      interruptionInfo: valid((3 << 8) | 6),
      idtVectoringInfo: 0,
      guestRip: guestAt('nop'),
    });
    expect(m.events.filter((e) => e.kind === EventKind.Exception)).toEqual([]);
  });

  it('a #PF exits by the error-code mask/match rule with CR2 as the qualification and the error code', () => {
    // Bitmap bit 14 clear, mask = W, match = 0: a write fault does not match, so the bit is inverted.
    const m = eventHypervisor('mov eax, 1\nmov [0x800010], eax', {
      extra: `${w(F.PageFaultErrorCodeMask, 2)}${w(F.PageFaultErrorCodeMatch, 0)}`,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      qualification: 0x800010,
      interruptionInfo: valid(ERROR_CODE_VALID | (3 << 8) | 14),
      interruptionErrorCode: 2,
      guestRip: guestAt('mov eax, 1'),
    });
  });

  it('INT3 is a software exception: type 6, instruction length 1, RIP at the INT3', () => {
    const m = eventHypervisor('nop\nint3\nvmcall', {
      extra: w(F.ExceptionBitmap, 1 << 3),
      resume: [ExitReason.ExceptionOrNmi],
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const [bp, call] = records(m);
    expect(bp).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      interruptionInfo: valid((6 << 8) | 3),
      length: 1,
      guestRip: guestAt('nop'),
    });
    // Resumed after the INT3 (RIP + length), the guest reached its VMCALL.
    expect(call?.reason).toBe(ExitReason.Vmcall);
  });

  it('a single-step #DB trap exits after the instruction with BS (DR6 bit 14) as the qualification', () => {
    const m = eventHypervisor('pushfd\nor dword [esp], 0x100\npopfd\nnop\nnop', {
      extra: w(F.ExceptionBitmap, 1 << 1),
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      qualification: 1 << 14,
      interruptionInfo: valid((3 << 8) | 1),
      guestRip: guestAt('pushfd\nor dword [esp], 0x100\npopfd\nnop'),
    });
  });

  it('a #PF that exits leaves CR2 as the guest had it: the address is only in the qualification', () => {
    const m = eventHypervisor('mov eax, 0x1234\nmov cr2, eax\nmov [0x800010], eax', {
      extra: w(F.ExceptionBitmap, 1 << 14),
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        qualification: 0x800010,
        guestRip: guestAt('mov eax, 0x1234\nmov cr2, eax'),
      },
    ]);
    // A VM exit does not load CR2: the guest's value is still there for the VMM.
    expect(m.cpu.ctrl.cr2).toBe(0x1234);
  });

  it('for any guest CR2 and faulting address, the exit reports the address and CR2 keeps the guest value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        // Above the guest's one 4-MiB page, short of the 4-byte access wrapping around.
        fc.integer({ min: 0x40_0000, max: 0xffff_fffb }),
        (cr2, address) => {
          const m = eventHypervisor(`mov eax, ${cr2}\nmov cr2, eax\nmov eax, [${address}]`, {
            extra: w(F.ExceptionBitmap, 1 << 14),
          });
          expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
          expect(records(m).map((r) => [r.reason, r.qualification])).toEqual([
            [ExitReason.ExceptionOrNmi, address],
          ]);
          expect(m.cpu.ctrl.cr2).toBe(cr2);
        },
      ),
      { numRuns: 10 },
    );
  });

  it('a #DB that exits leaves DR6 alone and reports only its own conditions', () => {
    // DR6.BD is left over from earlier; the single step must not add BS to DR6 nor report BD.
    const m = eventHypervisor(
      'mov eax, 0xffff2ff0\nmov dr6, eax\npushfd\nor dword [esp], 0x100\npopfd\nnop\nnop',
      { extra: w(F.ExceptionBitmap, 1 << 1) },
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([{ reason: ExitReason.ExceptionOrNmi, qualification: 1 << 14 }]);
    expect(m.cpu.ctrl.dr[6]).toBe(0xffff2ff0);
  });

  it('a general-detect #DB that exits keeps DR7.GD set and DR6 unchanged', () => {
    const m = eventHypervisor('mov eax, 0x2400\nmov dr7, eax\nmov eax, dr6', {
      extra: w(F.ExceptionBitmap, 1 << 1),
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        qualification: 1 << 13,
        interruptionInfo: valid((3 << 8) | 1),
        guestRip: guestAt('mov eax, 0x2400\nmov dr7, eax'),
      },
    ]);
    // "Save debug controls" (a default-1 exit control) stored the guest's DR7, GD still set.
    expect(m.unit.state.vmcs.read32(F.GuestDr7)).toBe(0x2400);
    expect(m.cpu.ctrl.dr[6]).toBe(0xffff0ff0);
  });
});

describe('NMI exiting', () => {
  it('an NMI exits with type 2 and the guest unblocked; NMIs are blocked after the exit', () => {
    let cpu: Cpu | null = null;
    class Platform extends NullHooks {
      override portOut(): number {
        cpu?.raiseNmi();
        return 0;
      }
    }
    // The NMI arrives during the OUT and is taken at the next block boundary, the spinning JMP.
    const m = eventHypervisor('out 0x80, al\nspin:\njmp spin', { pin: NMI_EXITING }, new Platform());
    cpu = m.cpu;
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      interruptionInfo: valid((2 << 8) | 2),
      guestRip: guestAt('out 0x80, al'),
      interruptibility: 0,
    });
    expect(m.cpu.nmiBlocked).toBe(true);
    expect(m.events).toEqual([]);
  });

  it('with virtual NMIs, a real NMI exits even while virtual NMIs are blocked; the virtual blocking is saved', () => {
    let cpu: Cpu | null = null;
    class Platform extends NullHooks {
      override portOut(): number {
        cpu?.raiseNmi();
        return 0;
      }
    }
    const m = eventHypervisor(
      'out 0x80, al\nspin:\njmp spin',
      { pin: NMI_EXITING | VIRTUAL_NMIS, extra: w(F.GuestInterruptibilityState, 8) },
      new Platform(),
    );
    cpu = m.cpu;
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        interruptionInfo: valid((2 << 8) | 2),
        guestRip: guestAt('out 0x80, al'),
        interruptibility: 8,
      },
    ]);
    expect(m.cpu.nmiPending).toBe(false);
    // A VM exit caused by an NMI blocks (real) NMIs.
    expect(m.cpu.nmiBlocked).toBe(true);
  });

  it('with virtual NMIs, other exits leave real NMIs unblocked whatever the virtual-NMI blocking', () => {
    const m = eventHypervisor('vmcall', {
      pin: NMI_EXITING | VIRTUAL_NMIS,
      extra: w(F.GuestInterruptibilityState, 8),
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([{ reason: ExitReason.Vmcall, interruptibility: 8 }]);
    expect(m.cpu.nmiBlocked).toBe(false);
  });

  it('with NMI exiting, NMI blocking from VM entry outlasts a guest IRET: the NMI waits instead of exiting', () => {
    let cpu: Cpu | null = null;
    class Platform extends NullHooks {
      override portOut(): number {
        cpu?.raiseNmi();
        return 0;
      }
    }
    const frame = 'push 2\npush 0x08\npush 0x8010\niretd';
    const m = eventHypervisor(
      `push 2\npush 0x08\npush ${guestAt(frame)}\niretd\nout 0x80, al\nnop\nvmcall`,
      { pin: NMI_EXITING, extra: w(F.GuestInterruptibilityState, 8) },
      new Platform(),
    );
    cpu = m.cpu;
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([{ reason: ExitReason.Vmcall, interruptibility: 8 }]);
    expect(m.cpu.nmiPending).toBe(true);
    expect(m.cpu.nmiBlocked).toBe(true);
  });

  it('without virtual NMIs, the guest state of NMI blocking is real blocking and stays after the exit', () => {
    const m = eventHypervisor('vmcall', { pin: NMI_EXITING, extra: w(F.GuestInterruptibilityState, 8) });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([{ reason: ExitReason.Vmcall, interruptibility: 8 }]);
    expect(m.cpu.nmiBlocked).toBe(true);
  });
});

describe('IDT-vectoring information', () => {
  it('a #PF while delivering an injected interrupt exits with the interrupt as IDT-vectoring information', () => {
    // The guest IDT lies on an unmapped page: reading gate 0x20 faults.
    const m = eventHypervisor('nop', {
      // Injecting an external interrupt needs RFLAGS.IF = 1 (SDM 27.3.1.5).
      extra: `${w(F.GuestRflags, 0x202)}${w(F.GuestIdtrBase, 0x800000)}${w(F.GuestIdtrLimit, 0x7ff)}${w(F.ExceptionBitmap, 1 << 14)}${w(
        F.EntryInterruptionInfo,
        valid(0x20),
      )}`,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(m.memory.read32(RESULT)).toBe(0);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      qualification: 0x800000 + 0x20 * 8,
      interruptionInfo: valid(ERROR_CODE_VALID | (3 << 8) | 14),
      interruptionErrorCode: 0,
      idtVectoringInfo: valid(0x20),
      guestRip: GUEST_CODE,
    });
    // The #PF exited directly: CR2 keeps its value.
    expect(m.cpu.ctrl.cr2).toBe(0);
  });

  it('a #GP while delivering an injected software interrupt reports it with its instruction length', () => {
    const m = eventHypervisor('nop', {
      extra: `${w(F.GuestIdtrLimit, 0)}${w(F.ExceptionBitmap, 1 << 13)}${w(
        F.EntryInterruptionInfo,
        valid((4 << 8) | 0x30),
      )}${w(F.EntryInstructionLength, 2)}`,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.ExceptionOrNmi,
      interruptionInfo: valid(ERROR_CODE_VALID | (3 << 8) | 13),
      // Gate 0x30 outside the IDT: selector index 0x30, IDT bit; INT n is not external (EXT = 0).
      interruptionErrorCode: (0x30 << 3) | 2,
      idtVectoringInfo: valid((4 << 8) | 0x30),
      length: 2,
      guestRip: GUEST_CODE,
    });
  });

  it('an EPT violation on the guest IDT while delivering an injected NMI carries the NMI as IDT-vectoring information', () => {
    const EPT = 0x40000;
    const m = eventHypervisor('nop', {
      pin: NMI_EXITING | VIRTUAL_NMIS,
      proc2: ENABLE_EPT,
      extra: `${w(F.EptPointer, EPT | 6 | (3 << 3))}${w(F.EptPointer + 1, 0)}${w(F.GuestIdtrBase, 0x300000)}${w(
        F.GuestIdtrLimit,
        0x7ff,
      )}${w(F.EntryInterruptionInfo, valid((2 << 8) | 2))}`,
    });
    m.memory.write32(EPT, (EPT + 0x1000) | 7);
    m.memory.write32(EPT + 0x1000, (EPT + 0x2000) | 7);
    m.memory.write32(EPT + 0x2000, 0x87 | (6 << 3));
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(m.memory.read32(RESULT)).toBe(0);
    const [r] = records(m);
    expect(r).toMatchObject({
      reason: ExitReason.EptViolation,
      idtVectoringInfo: valid((2 << 8) | 2),
      guestRip: GUEST_CODE,
      // The NMI was not delivered: no (virtual-)NMI blocking is saved.
      interruptibility: 0,
    });
    expect(m.unit.state.vmcs.read32(F.GuestPhysicalAddress)).toBe(0x300000 + 2 * 8);
  });
});

describe("faults while delivering a #DF or a benign event's handler", () => {
  /** A guest IDT of zeroed (invalid) gates: the limit decides which gates exist. */
  const IDT = 0x50000;
  /** Makes gate `vector` a 32-bit interrupt gate that is not present (#NP when used). */
  const notPresent = (m: Machine, vector: number): void => {
    m.memory.write32(IDT + vector * 8, 0x0008_0000);
    m.memory.write32(IDT + vector * 8 + 4, 0x0000_0e00);
  };

  it('a fault while delivering the #DF exits through the bitmap with the #DF as IDT-vectoring information', () => {
    // #PF -> its gate (14) lies beyond the limit: #GP -> #PF + #GP make a #DF -> gate 8 is not present: #NP.
    const m = eventHypervisor('mov eax, [0x800000]', {
      extra: `${w(F.GuestIdtrBase, IDT)}${w(F.GuestIdtrLimit, 0x47)}${w(F.ExceptionBitmap, 1 << 11)}`,
    });
    notPresent(m, 8);
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        interruptionInfo: valid(ERROR_CODE_VALID | (3 << 8) | 11),
        // Gate 8 in the IDT, during delivery of an event external to the program (EXT).
        interruptionErrorCode: (8 << 3) | 2 | 1,
        idtVectoringInfo: valid(ERROR_CODE_VALID | (3 << 8) | 8),
        idtVectoringErrorCode: 0,
        guestRip: GUEST_CODE,
      },
    ]);
    // The #PF was not the exit's: delivering it loaded CR2.
    expect(m.cpu.ctrl.cr2).toBe(0x800000);
  });

  it('the same fault without its bitmap bit is a triple fault (exit reason 2)', () => {
    const m = eventHypervisor('mov eax, [0x800000]', {
      extra: `${w(F.GuestIdtrBase, IDT)}${w(F.GuestIdtrLimit, 0x47)}`,
    });
    notPresent(m, 8);
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([{ reason: ExitReason.TripleFault }]);
  });

  it('a #DF that exits reports the event whose delivery failed first, not the second fault', () => {
    const m = eventHypervisor('mov eax, [0x800000]', {
      extra: `${w(F.GuestIdtrBase, IDT)}${w(F.GuestIdtrLimit, 0x47)}${w(F.ExceptionBitmap, 1 << 8)}`,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        interruptionInfo: valid(ERROR_CODE_VALID | (3 << 8) | 8),
        interruptionErrorCode: 0,
        idtVectoringInfo: valid(ERROR_CODE_VALID | (3 << 8) | 14),
        idtVectoringErrorCode: 0,
      },
    ]);
  });

  it('a fault while delivering the #GP of a software interrupt exits with the #GP as IDT-vectoring information', () => {
    // INT 30H: gate beyond the limit, #GP (benign after a software interrupt, delivered serially) ->
    // gate 13 is not present: #NP, which the bitmap selects.
    const m = eventHypervisor('int 0x30', {
      extra: `${w(F.GuestIdtrBase, IDT)}${w(F.GuestIdtrLimit, 0x6f)}${w(F.ExceptionBitmap, 1 << 11)}`,
    });
    notPresent(m, 13);
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        interruptionInfo: valid(ERROR_CODE_VALID | (3 << 8) | 11),
        interruptionErrorCode: (13 << 3) | 2 | 1,
        idtVectoringInfo: valid(ERROR_CODE_VALID | (3 << 8) | 13),
        idtVectoringErrorCode: (0x30 << 3) | 2,
        guestRip: GUEST_CODE,
      },
    ]);
  });
});

describe('interrupt-window and NMI-window exiting', () => {
  it('exits with reason 7 at the first boundary with IF = 1 after the STI shadow', () => {
    const m = eventHypervisor('nop\nsti\nnop\nvmcall', { proc: INTERRUPT_WINDOW_EXITING });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      { reason: ExitReason.InterruptWindow, guestRip: guestAt('nop\nsti\nnop') },
    ]);
    // The host's own setting is back after the exit.
    expect(m.cpu.interruptWindowExiting).toBe(false);
  });

  it('exits with reason 8 right after the IRET that ends virtual-NMI blocking', () => {
    const frame = 'push 2\npush 0x08\npush 0x8010\niretd';
    // The IRET target, GUEST_CODE + 10H, follows six NOPs of padding (the frame is 10 bytes).
    const guest = `${frame}${'\nnop'.repeat(7)}`;
    const m = eventHypervisor(guest, {
      pin: NMI_EXITING | VIRTUAL_NMIS,
      proc: NMI_WINDOW_EXITING,
      extra: w(F.GuestInterruptibilityState, 8),
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      { reason: ExitReason.NmiWindow, guestRip: GUEST_CODE + 0x10, interruptibility: 0 },
    ]);
  });

  it('exits with reason 8 before the first guest instruction when nothing blocks NMIs', () => {
    const m = eventHypervisor('mov dword [0xb000], 1', {
      pin: NMI_EXITING | VIRTUAL_NMIS,
      proc: NMI_WINDOW_EXITING,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([{ reason: ExitReason.NmiWindow, guestRip: GUEST_CODE }]);
    expect(m.memory.read32(GUEST_OUT)).toBe(0);
  });

  it('a fault in an IRET that would unblock virtual NMIs reports "NMI unblocking due to IRET"', () => {
    // IRET to a non-canonical... here: to a null CS selector, #GP(0).
    const m = eventHypervisor('push 2\npush 0\npush 0\niretd', {
      pin: NMI_EXITING | VIRTUAL_NMIS,
      extra: `${w(F.GuestInterruptibilityState, 8)}${w(F.ExceptionBitmap, 1 << 13)}`,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        interruptionInfo: valid((1 << 12) | ERROR_CODE_VALID | (3 << 8) | 13),
        interruptionErrorCode: 0,
        guestRip: guestAt('push 2\npush 0\npush 0'),
        interruptibility: 0,
      },
    ]);
  });
});

describe('MOV-DR exiting (exit reason 29)', () => {
  it('reports the debug register, the direction and the general-purpose register', () => {
    const m = eventHypervisor('mov ecx, 0x400\nmov dr7, ecx\nmov eax, dr6\nvmcall', {
      proc: MOV_DR_EXITING,
      resume: [ExitReason.MovDr],
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m).map((r) => [r.reason, r.qualification, r.length])).toEqual([
      [ExitReason.MovDr, 7 | (0 << 4) | (1 << 8), 3],
      [ExitReason.MovDr, 6 | (1 << 4) | (0 << 8), 3],
      [ExitReason.Vmcall, 0, 3],
    ]);
  });
});

describe('descriptor-table exiting (exit reasons 46 and 47)', () => {
  it('reports instruction information (Tables 28-10, 28-11) and the displacement as qualification', () => {
    const m = eventHypervisor(
      `
      mov ebx, 0x3000
      sgdt [ebx+0x10]
      lidt [0x3100]
      str eax
      sldt [ecx+esi*4-8]
      vmcall`,
      { proc2: DESCRIPTOR_TABLE_EXITING, resume: [ExitReason.GdtrIdtrAccess, ExitReason.LdtrTrAccess] },
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const addr32 = 1 << 7;
    const ds = 3 << 15;
    const noIndex = 1 << 22;
    const noBase = 1 << 27;
    expect(records(m).map((r) => [r.reason, r.qualification, r.instructionInfo])).toEqual([
      // SGDT [EBX+10H]: 32-bit operand size (bit 11), base EBX, no index, instruction 0.
      [ExitReason.GdtrIdtrAccess, 0x10, addr32 | (1 << 11) | ds | noIndex | (3 << 23) | (0 << 28)],
      // LIDT [3100H]: no base, no index, instruction 3.
      [ExitReason.GdtrIdtrAccess, 0x3100, addr32 | (1 << 11) | ds | noIndex | noBase | (3 << 28)],
      // STR EAX: register operand (bit 10), reg1 = 0, instruction 1.
      [ExitReason.LdtrTrAccess, 0, (1 << 10) | (1 << 28)],
      // SLDT [ECX+ESI*4-8]: scale 2, index ESI, base ECX, displacement sign-extended.
      [ExitReason.LdtrTrAccess, 0xffff_fff8, 2 | addr32 | ds | (6 << 18) | (1 << 23) | (0 << 28)],
      [ExitReason.Vmcall, 0, 0],
    ]);
  });
});

describe('VM-exit instruction information of VMX instructions', () => {
  it('VMPTRST, VMREAD, VMWRITE, INVEPT and INVVPID in non-root operation report their operands (Tables 28-9, 28-13, 28-14)', () => {
    const m = eventHypervisor(
      `
      mov ebx, 0x3000
      vmptrst [ebx+4]
      vmread [ecx], edx
      vmwrite eax, esi
      invept edx, [ebx+esi*8+0x20]
      invvpid ecx, [ebx-0x10]
      vmcall`,
      {
        resume: [
          ExitReason.Vmptrst,
          ExitReason.Vmread,
          ExitReason.Vmwrite,
          ExitReason.Invept,
          ExitReason.Invvpid,
        ],
      },
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const mem32 = (1 << 7) | (3 << 15) | (1 << 22);
    expect(records(m).map((r) => [r.reason, r.qualification, r.instructionInfo])).toEqual([
      [ExitReason.Vmptrst, 4, mem32 | (3 << 23)],
      [ExitReason.Vmread, 0, mem32 | (1 << 23) | (2 << 28)],
      [ExitReason.Vmwrite, 0, (6 << 3) | (1 << 10) | (0 << 28)],
      // Scale 8 (3), index ESI, base EBX, Reg2 = EDX (the INVEPT type).
      [ExitReason.Invept, 0x20, 3 | (1 << 7) | (3 << 15) | (6 << 18) | (3 << 23) | (2 << 28)],
      [ExitReason.Invvpid, 0xffff_fff0, mem32 | (3 << 23) | (1 << 28)],
      [ExitReason.Vmcall, 0, 0],
    ]);
  });
});

const RDPMC_EXITING = 1 << 11;
const MWAIT_EXITING = 1 << 10;
const MONITOR_EXITING = 1 << 29;
const PAUSE_EXITING = 1 << 30;
const WBINVD_EXITING = 1 << 6;
/** A VMX CPU model that has MONITOR/MWAIT (the default Pentium II has not: they are #UD there). */
const WITH_MONITOR: CpuModel = {
  ...withVmx(PENTIUM_II),
  features: [...withVmx(PENTIUM_II).features, CpuidFeature.MONITOR],
};
/** Guest state at CPL 3: code 2B, data 33 (DPL 3), with guest CR4 = `cr4`. */
const cpl3Guest = (cr4: number): string => `
    ${w(F.GuestCr4, cr4)}
    ${w(F.GuestCsSelector, 0x2b)}
    ${w(F.GuestCsAccessRights, 0xc0fb)}
    ${[F.GuestSsSelector, F.GuestDsSelector, F.GuestEsSelector, F.GuestFsSelector, F.GuestGsSelector]
      .map((f) => w(f, 0x33))
      .join('')}
    ${[
      F.GuestSsAccessRights,
      F.GuestDsAccessRights,
      F.GuestEsAccessRights,
      F.GuestFsAccessRights,
      F.GuestGsAccessRights,
    ]
      .map((f) => w(f, 0xc0f3))
      .join('')}`;
const GP_EXCEPTION_INFO = valid(ERROR_CODE_VALID | (3 << 8) | 13);

describe('RDPMC, PAUSE, WBINVD, INVD, MONITOR and MWAIT exits', () => {
  it('RDPMC exiting: reason 15, length 2, taken before the #GP of an invalid counter number', () => {
    const m = eventHypervisor('mov ecx, 7\nrdpmc\nvmcall', {
      proc: RDPMC_EXITING,
      resume: [ExitReason.Rdpmc],
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m).map((r) => [r.reason, r.qualification, r.length, r.guestRip])).toEqual([
      [ExitReason.Rdpmc, 0, 2, guestAt('mov ecx, 7')],
      [ExitReason.Vmcall, 0, 3, guestAt('mov ecx, 7\nrdpmc')],
    ]);
  });

  it('RDPMC at CPL 3 is #GP(0) before RDPMC exiting unless CR4.PCE; with PCE it exits', () => {
    const guest = 'xor ecx, ecx\nrdpmc\nvmcall';
    const noPce = eventHypervisor(guest, {
      proc: RDPMC_EXITING,
      extra: `${cpl3Guest(0x2010)}${w(F.ExceptionBitmap, 1 << 13)}`,
    });
    expect(noPce.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(noPce.memory.read32(RESULT)).toBe(0);
    expect(records(noPce)).toMatchObject([
      {
        reason: ExitReason.ExceptionOrNmi,
        interruptionInfo: GP_EXCEPTION_INFO,
        guestRip: guestAt('xor ecx, ecx'),
      },
    ]);
    const pce = eventHypervisor(guest, {
      proc: RDPMC_EXITING,
      extra: `${cpl3Guest(0x2110)}${w(F.ExceptionBitmap, 1 << 13)}`,
    });
    expect(pce.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(pce)).toMatchObject([{ reason: ExitReason.Rdpmc, length: 2 }]);
  });

  it('PAUSE exiting: reason 40, length 2 (F3 90)', () => {
    const m = eventHypervisor('pause\nvmcall', { proc: PAUSE_EXITING, resume: [ExitReason.Pause] });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m).map((r) => [r.reason, r.qualification, r.length])).toEqual([
      [ExitReason.Pause, 0, 2],
      [ExitReason.Vmcall, 0, 3],
    ]);
  });

  it('WBINVD exiting (secondary bit 6): reason 54; INVD exits unconditionally with reason 13', () => {
    const m = eventHypervisor('wbinvd\ninvd\nvmcall', {
      proc2: WBINVD_EXITING,
      resume: [ExitReason.Wbinvd, ExitReason.Invd],
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m).map((r) => [r.reason, r.qualification, r.length, r.guestRip])).toEqual([
      [ExitReason.Wbinvd, 0, 2, GUEST_CODE],
      [ExitReason.Invd, 0, 2, GUEST_CODE + 2],
      [ExitReason.Vmcall, 0, 3, GUEST_CODE + 4],
    ]);
  });

  it('XSETBV exits unconditionally with reason 55 before it changes XCR0; #UD without CR4.OSXSAVE and #GP at CPL 3 come first', () => {
    const guest = 'xor ecx, ecx\nmov eax, 3\nxor edx, edx\nxsetbv\nvmcall';
    const model = withVmx(CORE_2);
    // Guest CR4: VMXE | OSFXSR | OSXSAVE | PSE (the identity map uses 4-MiB pages).
    const m = eventHypervisor(guest, { model, extra: w(F.GuestCr4, 0x42210), resume: [ExitReason.Xsetbv] });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const before = 'xor ecx, ecx\nmov eax, 3\nxor edx, edx';
    expect(records(m).map((r) => [r.reason, r.qualification, r.length, r.guestRip])).toEqual([
      [ExitReason.Xsetbv, 0, 3, guestAt(before)],
      [ExitReason.Vmcall, 0, 3, guestAt(`${before}\nxsetbv`)],
    ]);
    expect(xcr0Of(m.cpu)).toBe(1);
    const noOsxsave = eventHypervisor(guest, {
      model,
      extra: `${w(F.GuestCr4, 0x2210)}${w(F.ExceptionBitmap, 1 << 6)}`,
    });
    expect(noOsxsave.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(noOsxsave)).toMatchObject([
      { reason: ExitReason.ExceptionOrNmi, interruptionInfo: valid((3 << 8) | 6), guestRip: guestAt(before) },
    ]);
    const user = eventHypervisor(guest, {
      model,
      extra: `${cpl3Guest(0x42210)}${w(F.ExceptionBitmap, 1 << 13)}`,
    });
    expect(user.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(user)).toMatchObject([
      { reason: ExitReason.ExceptionOrNmi, interruptionInfo: GP_EXCEPTION_INFO, guestRip: guestAt(before) },
    ]);
  });

  it('without the controls RDPMC reads 0 (#GP for counter 2), PAUSE and WBINVD do nothing, INVD still exits', () => {
    const m = eventHypervisor(
      `
      mov eax, 0x1234
      mov edx, 0x5678
      mov ecx, 1
      rdpmc
      mov [${GUEST_OUT}], eax
      mov [${GUEST_OUT + 4}], edx
      pause
      wbinvd
      mov dword [${GUEST_OUT + 8}], 0x600d
      invd
      mov ecx, 2
      rdpmc
      vmcall`,
      { extra: w(F.ExceptionBitmap, 1 << 13), resume: [ExitReason.Invd] },
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect([
      m.memory.read32(GUEST_OUT),
      m.memory.read32(GUEST_OUT + 4),
      m.memory.read32(GUEST_OUT + 8),
    ]).toEqual([0, 0, 0x600d]);
    const rs = records(m);
    expect(rs.map((r) => r.reason)).toEqual([ExitReason.Invd, ExitReason.ExceptionOrNmi]);
    expect(rs[1]).toMatchObject({ interruptionInfo: GP_EXCEPTION_INFO, interruptionErrorCode: 0 });
  });

  it('MONITOR exiting (reason 39) and MWAIT exiting (reason 36), length 3, on a model with MONITOR', () => {
    const m = eventHypervisor('mov eax, 0x3000\nxor ecx, ecx\nxor edx, edx\nmonitor\nmwait\nvmcall', {
      proc: MONITOR_EXITING | MWAIT_EXITING,
      resume: [ExitReason.Monitor, ExitReason.Mwait],
      model: WITH_MONITOR,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m).map((r) => [r.reason, r.qualification, r.length])).toEqual([
      [ExitReason.Monitor, 0, 3],
      // The MONITOR exited, so the monitoring hardware is not armed (SDM 28.2.1).
      [ExitReason.Mwait, 0, 3],
      [ExitReason.Vmcall, 0, 3],
    ]);
  });

  it('MWAIT after a MONITOR that did not exit reports the armed monitor (qualification 1)', () => {
    const m = eventHypervisor('mov eax, 0x3000\nxor ecx, ecx\nxor edx, edx\nmonitor\nmwait\nmwait\nvmcall', {
      proc: MWAIT_EXITING,
      resume: [ExitReason.Mwait],
      model: WITH_MONITOR,
    });
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(m).map((r) => [r.reason, r.qualification])).toEqual([
      [ExitReason.Mwait, 1],
      [ExitReason.Mwait, 0],
      [ExitReason.Vmcall, 0],
    ]);
  });

  it('MONITOR and MWAIT without exiting controls execute (nonzero ECX is #GP); without the MONITOR feature they are #UD', () => {
    const ok = eventHypervisor(
      `mov eax, 0x3000\nxor ecx, ecx\nxor edx, edx\nmonitor\nmwait\nmov dword [${GUEST_OUT}], 0x600d\ninc ecx\nmwait`,
      { extra: w(F.ExceptionBitmap, 1 << 13), model: WITH_MONITOR },
    );
    expect(ok.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(ok.memory.read32(GUEST_OUT)).toBe(0x600d);
    expect(records(ok)).toMatchObject([
      { reason: ExitReason.ExceptionOrNmi, interruptionInfo: GP_EXCEPTION_INFO },
    ]);
    const ud = eventHypervisor('monitor', {
      proc: MONITOR_EXITING,
      extra: w(F.ExceptionBitmap, 1 << 6),
    });
    expect(ud.unit.run(100_000)).toBe(CpuExit.Hlt);
    expect(records(ud)).toMatchObject([
      { reason: ExitReason.ExceptionOrNmi, interruptionInfo: valid((3 << 8) | 6) },
    ]);
  });
});

describe('INS/OUTS instruction information (Table 28-8)', () => {
  it('reports the address size and, for OUTS, the segment register; IN/OUT leave it 0', () => {
    const m = eventHypervisor(
      `
      mov dx, 0x80
      mov edi, 0x3000
      insb
      mov esi, 0x3010
      outsd
      mov esi, 0x3020
      db 0x64, 0x6f
      mov esi, 0x13030
      db 0x67, 0x26, 0x6e
      mov edi, 0x13040
      db 0x2e, 0x67, 0x6c
      out dx, al
      vmcall`,
      { proc: UNCONDITIONAL_IO, resume: [ExitReason.IoInstruction] },
    );
    expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
    const a16 = 0 << 7;
    const a32 = 1 << 7;
    const seg = (n: number): number => n << 15;
    expect(records(m).map((r) => [r.reason, r.length, r.instructionInfo])).toEqual([
      [ExitReason.IoInstruction, 1, a32 | seg(0)], // INSB: ES
      [ExitReason.IoInstruction, 1, a32 | seg(3)], // OUTSD: DS
      [ExitReason.IoInstruction, 2, a32 | seg(4)], // FS: OUTSD
      [ExitReason.IoInstruction, 3, a16 | seg(0)], // a16 ES: OUTSB
      [ExitReason.IoInstruction, 3, a16 | seg(0)], // CS: a16 INSB still writes ES
      [ExitReason.IoInstruction, 1, 0],
      [ExitReason.Vmcall, 3, 0],
    ]);
    // The guest-linear address of the string operand (SDM 28.2.1), flat segments: ES:EDI for INS,
    // seg:ESI for OUTS, SI/DI alone with a 16-bit address size. (The recording handler does not keep
    // the guest's registers, so the guest sets ESI/EDI before each one.)
    expect(records(m).map((r) => r.guestLinear)).toEqual([0x3000, 0x3010, 0x3020, 0x3030, 0x3040, 0, 0]);
  });

  it('any prefix mix: address size flipped by 67, the last segment override for OUTS, ES for INS (property)', () => {
    const SEG: Record<number, number> = { 38: 0, 46: 1, 54: 2, 62: 3, 100: 4, 101: 5 };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x67, 0xf3), { maxLength: 4 }),
        fc.integer({ min: 0x6c, max: 0x6f }),
        (prefixes, opcode) => {
          const m = eventHypervisor(
            `mov ecx, 1\nmov dx, 0x80\nmov esi, 0x3000\nmov edi, 0x3000\ndb ${[...prefixes, opcode].join(', ')}\nvmcall`,
            { proc: UNCONDITIONAL_IO, resume: [ExitReason.IoInstruction] },
          );
          expect(m.unit.run(100_000)).toBe(CpuExit.Hlt);
          const segs = prefixes.filter((p) => p in SEG);
          const outs = opcode >= 0x6e;
          const segment = outs ? (segs.length > 0 ? SEG[segs[segs.length - 1]!]! : 3) : 0;
          const a16 = prefixes.includes(0x67);
          const [r] = records(m);
          expect(r).toMatchObject({
            reason: ExitReason.IoInstruction,
            length: prefixes.length + 1,
            instructionInfo: ((a16 ? 0 : 1) << 7) | (segment << 15),
          });
        },
      ),
      { numRuns: 25 },
    );
  });
});
