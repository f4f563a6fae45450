import { EntryCtl, VmcsField as F } from '@typevisor/vmx';
import { describe, expect, it } from 'vitest';
import { KvmHost } from '../kernel/host.js';
import { Kvm } from '../kvm.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_translation } from '../uapi/structs.js';
import type { Regs, Segment, Sregs, Vcpu } from '../vcpu.js';

/** 64-bit guest code at guest-physical 0x1000: mov eax, 42; out 0x10, al; hlt. */
const CODE = [0xb8, 0x2a, 0x00, 0x00, 0x00, 0xe6, 0x10, 0xf4];
const PML4 = 0x10000;
/** 0xFFFF_FFFF_8000_0000 maps guest-physical 0 too (PML4[511] -> PDPT[510] -> the same PD). */
const HIGH = 0xffff_ffff_8000_0000n;
const U64 = (1n << 64n) - 1n;

/** 2 MiB of RAM with 4-level identity paging of the first 2 MiB and the high alias. */
function guest(ept: boolean): { vcpu: Vcpu; ram: Uint8Array } {
  const kvm = Kvm.open(new KvmHost({ vmx: { ept } }));
  const vm = kvm.createVm();
  const mem = kvm.host.mmap(0x20_0000);
  const ram = mem.bytes;
  vm.setUserMemoryRegion({
    slot: 0,
    guestPhysAddr: 0n,
    memorySize: 0x20_0000n,
    userspaceAddr: BigInt(mem.addr),
  });
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  dv.setUint32(PML4, 0x11000 | 3, true); // PML4[0] -> PDPT (low)
  dv.setUint32(PML4 + 511 * 8, 0x13000 | 3, true); // PML4[511] -> PDPT (high)
  dv.setUint32(0x11000, 0x12000 | 3, true); // PDPT[0] -> PD
  dv.setUint32(0x13000 + 510 * 8, 0x12000 | 3, true); // PDPT[510] -> PD
  dv.setUint32(0x12000, 0x83, true); // PD[0]: 2 MiB page at 0
  ram.set(CODE, 0x1000);
  const vcpu = vm.createVcpu(0);
  vcpu.setCpuid2(kvm.getSupportedCpuid());
  return { vcpu, ram };
}

const segment = (selector: number, type: number, extra: Partial<Segment> = {}): Segment => ({
  base: 0n,
  limit: 0xffff_ffff,
  selector,
  type,
  present: 1,
  dpl: 0,
  db: 1,
  s: 1,
  l: 0,
  g: 1,
  avl: 0,
  unusable: 0,
  ...extra,
});

/** IA-32e mode at CPL 0: 64-bit CS, flat data, a busy 64-bit TSS, 64-bit FS/GS/TR/GDT/IDT bases. */
function longSregs(s: Sregs): Sregs {
  const data = segment(0x10, 3);
  return {
    ...s,
    cs: segment(0x8, 0xb, { l: 1, db: 0 }),
    ds: data,
    es: data,
    ss: data,
    fs: { ...data, base: 0x7fff_0000_1000n },
    gs: { ...data, base: 0xffff_ffff_8100_0000n },
    tr: segment(0x18, 0xb, { s: 0, db: 0, g: 0, limit: 0x67, base: 0xffff_8000_0000_2000n }),
    ldt: segment(0, 2, { s: 0, unusable: 1, base: 0n, limit: 0 }),
    gdt: { base: 0xffff_8000_0000_0500n, limit: 0x27 },
    idt: { base: 0xffff_8000_0000_0000n, limit: 0xfff },
    cr0: 0x8000_0031n, // PG NE ET PE
    cr3: BigInt(PML4),
    cr4: 0x20n, // PAE
    cr8: 5n,
    efer: 0x501n, // LMA LME SCE
  };
}

/** Every GPR with a distinct value in both halves. */
function wideRegs(r: Regs, rip: bigint): Regs {
  const out = { ...r };
  const names = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp'] as const;
  names.forEach((k, i) => {
    out[k] = (BigInt(0x8000_0000 + i * 0x111) << 32n) | BigInt(0xdead_0000 + i);
  });
  for (let n = 8; n < 16; n++) out[`r${n}` as keyof Regs] = (BigInt(0xf000_0000 + n) << 32n) | BigInt(n);
  out.rip = rip;
  out.rflags = 2n;
  return out;
}

for (const ept of [true, false]) {
  describe(`a 64-bit guest through the facade (ept ${ept ? 'on' : 'off'})`, () => {
    it('KVM_SET_REGS/SREGS -> the CPU -> KVM_GET_REGS/SREGS keeps every 64-bit value', () => {
      const { vcpu } = guest(ept);
      const sregs = longSregs(vcpu.getSregs());
      vcpu.setSregs(sregs);
      const base = HIGH;
      const regs = wideRegs(vcpu.getRegs(), base + 0x1000n);
      vcpu.setRegs(regs);
      // The run loads the CPU from the buffers and stores it back at the exit.
      const exit = vcpu.runGuest();
      expect(exit).toMatchObject({ kind: 'IoOut', port: 0x10 });
      const after = vcpu.getRegs();
      // MOV EAX zero-extends into RAX; RIP is the u64 0xFFFF_FFFF_8000_1005: at the OUT, which
      // complete_fast_pio_out skips at the next KVM_RUN.
      expect(after.rax).toBe(42n);
      expect(after.rip).toBe(base + 0x1005n);
      for (const k of Object.keys(regs) as (keyof Regs)[]) {
        if (k !== 'rax' && k !== 'rip') expect(after[k], k).toBe(regs[k]);
      }
      const s = vcpu.getSregs();
      expect(s.cs).toMatchObject({ l: 1, db: 0, selector: 8 });
      expect(s.fs.base).toBe(0x7fff_0000_1000n);
      expect(s.gs.base).toBe(0xffff_ffff_8100_0000n);
      expect(s.tr.base).toBe(0xffff_8000_0000_2000n);
      expect(s.gdt).toEqual(sregs.gdt);
      expect(s.idt).toEqual(sregs.idt);
      expect([s.cr0, s.cr3, s.cr4, s.cr8, s.efer]).toEqual([0x8000_0031n, BigInt(PML4), 0x20n, 5n, 0x501n]);
      expect(vcpu.runGuest()).toEqual({ kind: 'Hlt' });
      expect(vcpu.getRegs().rip).toBe(base + 0x1008n);
      // The VMCS after the HLT exit: the u64 RIP of the HLT, IA32_EFER saved, "IA-32e mode guest" set.
      const vmcs = vcpu.host.vcpuRunner(vcpu.fd)!.vmcs;
      expect((BigInt(vmcs.readHi(F.GuestRip)) << 32n) | BigInt(vmcs.readLo(F.GuestRip))).toBe(base + 0x1007n);
      expect(vmcs.readLo(F.GuestIa32Efer)).toBe(0x501);
      expect(vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest).toBe(EntryCtl.Ia32eModeGuest);
    });

    it('runs at an identity-mapped RIP too', () => {
      const { vcpu } = guest(ept);
      vcpu.setSregs(longSregs(vcpu.getSregs()));
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rflags: 2n });
      expect(vcpu.runGuest()).toMatchObject({ kind: 'IoOut', port: 0x10, data: new Uint8Array([42]) });
      expect(vcpu.runGuest()).toEqual({ kind: 'Hlt' });
      expect(vcpu.getRegs().rip).toBe(0x1008n);
    });

    it('a null FS/GS (unusable, as 64-bit code leaves them) keeps its 64-bit base across KVM_SET_SREGS and a run', () => {
      const { vcpu } = guest(ept);
      const s = longSregs(vcpu.getSregs());
      vcpu.setSregs({
        ...s,
        fs: { ...s.fs, selector: 0, unusable: 1, base: 0x7fff_0000_1000n },
        gs: { ...s.gs, selector: 0, unusable: 1, base: 0xffff_ffff_8100_0000n },
      });
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rflags: 2n });
      expect(vcpu.runGuest()).toMatchObject({ kind: 'IoOut', port: 0x10 });
      const after = vcpu.getSregs();
      expect(after.fs.base).toBe(0x7fff_0000_1000n);
      expect(after.gs.base).toBe(0xffff_ffff_8100_0000n);
    });

    it('the guest CPUID gates 64-bit instructions: MOV RAX, imm64 runs with CPUID.80000001H:EDX.LM, is #UD without', () => {
      // mov rax, 0x1122334455667788; out 0x10, al; hlt
      const code = [0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xe6, 0x10, 0xf4];
      for (const lm of [true, false]) {
        const { vcpu, ram } = guest(ept);
        ram.set(code, 0x1100);
        if (!lm) vcpu.setCpuid2(vcpu.getCpuid2().filter((e) => e.function !== 0x8000_0001));
        vcpu.setSregs(longSregs(vcpu.getSregs()));
        vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1100n, rflags: 2n });
        const exit = vcpu.runGuest();
        if (lm) {
          expect(exit).toMatchObject({ kind: 'IoOut', port: 0x10, data: new Uint8Array([0x88]) });
          expect(vcpu.getRegs().rax).toBe(0x1122_3344_5566_7788n);
        } else {
          // #UD with no usable IDT (its base is not mapped): #PF, #DF, then the triple fault.
          expect(exit).toEqual({ kind: 'Shutdown' });
        }
      }
    });

    it('refuses entry (KVM_EXIT_FAIL_ENTRY, invalid guest state) for CS.L with CS.D and for a non-canonical RIP', () => {
      for (const bad of [
        (s: Sregs, r: Regs): [Sregs, Regs] => [{ ...s, cs: { ...s.cs, db: 1 } }, r],
        (s: Sregs, r: Regs): [Sregs, Regs] => [s, { ...r, rip: 0x8000_0000_0000n }],
        (s: Sregs, r: Regs): [Sregs, Regs] => [{ ...s, fs: { ...s.fs, base: 0x8000_0000_0000n } }, r],
      ]) {
        const { vcpu } = guest(ept);
        const [s, r] = bad(longSregs(vcpu.getSregs()), { ...vcpu.getRegs(), rip: 0x1000n, rflags: 2n });
        vcpu.setSregs(s);
        vcpu.setRegs(r);
        expect(vcpu.runGuest()).toMatchObject({
          kind: 'FailEntry',
          hardwareEntryFailureReason: 0x8000_0021n,
        });
      }
    });
  });
}

describe('64-bit state without a run', () => {
  it('KVM_SET_SREGS refuses EFER.LME|PG without LMA, and LMA or CS.L outside long mode', () => {
    const { vcpu } = guest(true);
    const s = longSregs(vcpu.getSregs());
    expect(() => vcpu.setSregs({ ...s, efer: 0x100n })).toThrow();
    expect(() => vcpu.setSregs({ ...s, cr0: 0x11n })).toThrow(); // LMA without paging
    vcpu.setSregs(s);
    expect(vcpu.getSregs().efer).toBe(0x501n);
  });

  it('a u64 round-trips through the buffers unchanged (all 64 bits of each GPR and RIP)', () => {
    const { vcpu } = guest(true);
    const regs = wideRegs(vcpu.getRegs(), U64 - 0xfffn);
    vcpu.setRegs(regs);
    expect(vcpu.getRegs()).toEqual(regs);
  });

  it('KVM_TRANSLATE walks the 4-level tables for a canonical address in the upper half; a non-canonical one is invalid', () => {
    const { vcpu } = guest(true);
    vcpu.setSregs(longSregs(vcpu.getSregs()));
    const tr = allocStruct(kvm_translation);
    const translate = (la: bigint): [bigint, number] => {
      tr.set('linear_address', la);
      expect(vcpu.host.ioctl(vcpu.fd, I.KVM_TRANSLATE, tr.bytes)).toBe(0);
      return [tr.getBigInt('physical_address'), tr.get('valid')];
    };
    expect(translate(HIGH + 0x1234n)).toEqual([0x1234n, 1]);
    expect(translate(0x1234n)).toEqual([0x1234n, 1]);
    expect(translate(0x8000_0000_1000n)).toEqual([U64, 0]);
    expect(translate(0x40_0000n)).toEqual([U64, 0]); // PD[2] not present
  });

  it('KVM_SET_MSRS/KVM_GET_MSRS keep 64-bit LSTAR and KERNEL_GS_BASE values', () => {
    const { vcpu } = guest(true);
    const entries: [number, bigint][] = [
      [0xc000_0082, 0xffff_ffff_8100_0040n],
      [0xc000_0102, 0xffff_8880_0000_1000n],
      [0xc000_0081, 0x0023_0010_0000_0000n],
    ];
    const b = new Uint8Array(8 + 16 * entries.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, entries.length, true);
    for (const [i, [index, data]] of entries.entries()) {
      v.setUint32(8 + i * 16, index, true);
      v.setBigUint64(16 + i * 16, data, true);
    }
    expect(vcpu.host.ioctl(vcpu.fd, I.KVM_SET_MSRS, b)).toBe(3);
    for (let i = 0; i < entries.length; i++) v.setBigUint64(16 + i * 16, 0n, true);
    expect(vcpu.host.ioctl(vcpu.fd, I.KVM_GET_MSRS, b)).toBe(3);
    expect(entries.map((_, i) => v.getBigUint64(16 + i * 16, true))).toEqual(entries.map(([, d]) => d));
  });
});
