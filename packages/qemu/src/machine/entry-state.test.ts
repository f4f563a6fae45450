import { type CpuidEntry, Kvm, KvmHost, type Regs, type Segment, type Sregs } from '@typevisor/kvm';
import { describe, expect, it } from 'vitest';
import { pcE820 } from '../loaders/e820.js';
import { type Entry32, LAYOUT, SETUP, XLF, loadLinux } from '../loaders/linux.js';
import { applyEntryRegs, applyEntrySregs, cpuidHasLongMode, flatSegment } from './entry-state.js';

const seg = (selector: number): Segment => ({
  ...flatSegment(selector, false),
  base: 0n,
  limit: 0xffff,
  g: 0,
});
const table = { base: 0n, limit: 0xffff };
/** KVM_GET_SREGS of a vCPU after reset (real mode), as the machines pass it in. */
const resetSregs: Sregs = {
  cs: seg(0xf000),
  ds: seg(0),
  es: seg(0),
  fs: seg(0),
  gs: seg(0),
  ss: seg(0),
  tr: seg(0),
  ldt: seg(0),
  gdt: table,
  idt: table,
  cr0: 0x6000_0010n,
  cr2: 0n,
  cr3: 0n,
  cr4: 0n,
  cr8: 0n,
  efer: 0n,
  apic_base: 0xfee0_0900n,
  interrupt_bitmap: [0n, 0n, 0n, 0n],
} as unknown as Sregs;

const entry32: Entry32 = {
  eip: 0x100000,
  esi: 0x7000,
  eflags: 2,
  cr0: 0x11,
  gdt: { base: 0x500, limit: 31 },
  codeSelector: 0x10,
  dataSelector: 0x18,
};
const entry64: Entry32 = {
  ...entry32,
  eip: 0x100200,
  cr0: 0x8000_0011,
  long: { cr3: 0x9000, cr4: 0x20, efer: 0x500 },
};

describe('entry state', () => {
  it('the 32-bit entry: flat 32-bit CS (L=0, D=1), paging off, EFER untouched', () => {
    const s = applyEntrySregs(resetSregs, entry32);
    expect(s.cs).toMatchObject({ selector: 0x10, l: 0, db: 1, g: 1, limit: 0xffffffff });
    expect(s.cr0 & 0x8000_0001n).toBe(1n);
    expect([s.cr3, s.cr4, s.efer]).toEqual([0n, 0n, 0n]);
  });

  it('the 64-bit entry: CS with L=1 and D=0, CR0.PG|PE, CR3 at the page tables, CR4.PAE, EFER.LME|LMA', () => {
    const s = applyEntrySregs(resetSregs, entry64);
    expect(s.cs).toMatchObject({ selector: 0x10, l: 1, db: 0, type: 0xb, s: 1, present: 1 });
    for (const d of [s.ds, s.es, s.ss, s.fs, s.gs]) expect(d).toMatchObject({ selector: 0x18, l: 0, db: 1 });
    expect(s.cr0 & 0x8000_0001n).toBe(0x8000_0001n);
    expect(s.cr3).toBe(0x9000n);
    expect(s.cr4 & 0x20n).toBe(0x20n);
    expect(s.efer).toBe(0x500n);
    expect(s.gdt).toEqual({ base: 0x500n, limit: 31 });
  });

  it('regs: RIP at the entry, RSI = boot_params, IF clear, everything else zero', () => {
    const r = applyEntryRegs(
      { rax: 5n, r15: 7n, rip: 1n, rsi: 0n, rflags: 0x202n } as unknown as Regs,
      entry64,
    );
    expect(r).toMatchObject({ rip: 0x100200n, rsi: 0x7000n, rflags: 2n, rax: 0n, r15: 0n });
  });

  it('tells whether a vCPU CPUID has long mode (CPUID.80000001H:EDX bit 29)', () => {
    const e = (edx: number): CpuidEntry => ({
      function: 0x8000_0001,
      index: 0,
      flags: 0,
      eax: 0,
      ebx: 0,
      ecx: 0,
      edx,
    });
    expect(cpuidHasLongMode([e(1 << 29)])).toBe(true);
    expect(cpuidHasLongMode([e(1 << 11)])).toBe(false);
    expect(cpuidHasLongMode([])).toBe(false);
  });

  it('a 64-bit-entry kernel runs through the KVM facade: startup_64 reads boot_params through the identity map', () => {
    const RAM = 16 * 2 ** 20;
    const kvm = Kvm.open(new KvmHost());
    const vm = kvm.createVm();
    const mem = kvm.host.mmap(RAM);
    vm.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0n,
      memorySize: BigInt(RAM),
      userspaceAddr: BigInt(mem.addr),
    });
    const vcpu = vm.createVcpu(0);
    vcpu.setCpuid2(kvm.getSupportedCpuid());
    // The protected-mode kernel: at 0x200, mov eax, [rsi + 0x202] ("HdrS"); out 0x10, al; hlt.
    const payload = new Uint8Array(0x1000);
    payload.set([0x8b, 0x86, 0x02, 0x02, 0x00, 0x00, 0xe6, 0x10, 0xf4], 0x200);
    const image = new Uint8Array(5 * 512 + payload.length);
    const dv = new DataView(image.buffer);
    image[SETUP.SETUP_SECTS] = 4;
    dv.setUint16(SETUP.BOOT_FLAG, 0xaa55, true);
    image[SETUP.JUMP + 1] = 0x66;
    dv.setUint32(SETUP.HEADER, 0x53726448, true);
    dv.setUint16(SETUP.VERSION, 0x20f, true);
    image[SETUP.LOADFLAGS] = 1;
    dv.setUint32(SETUP.CODE32_START, 0x100000, true);
    dv.setUint32(SETUP.CMDLINE_SIZE, 2047, true);
    dv.setUint16(SETUP.XLOADFLAGS, XLF.KERNEL_64, true);
    image.set(payload, 5 * 512);
    const ram = mem.bytes;
    const r = loadLinux(
      {
        writeBytes: (gpa, b) => {
          ram.set(b, gpa);
          return true;
        },
      },
      {
        kernel: image,
        cmdline: '',
        ramBytes: RAM,
        e820: pcE820(RAM),
        rngSeed: new Uint8Array(0),
        longMode: cpuidHasLongMode(vcpu.getCpuid2()),
      },
    );
    if ('kind' in r) throw new Error(r.kind);
    expect(r.entry.long).toBeDefined();
    vcpu.setSregs(applyEntrySregs(vcpu.getSregs(), r.entry));
    vcpu.setRegs(applyEntryRegs(vcpu.getRegs(), r.entry));
    expect(vcpu.runGuest()).toMatchObject({ kind: 'IoOut', port: 0x10, data: new Uint8Array([0x48]) }); // 'H'
    expect(vcpu.getRegs()).toMatchObject({
      rax: 0x53726448n,
      rsi: BigInt(LAYOUT.BOOT_PARAMS),
      rip: 0x100206n,
    });
    expect(vcpu.getSregs().cs).toMatchObject({ selector: 0x10, l: 1, db: 0 });
    expect(vcpu.runGuest()).toEqual({ kind: 'Hlt' });
  });
});
