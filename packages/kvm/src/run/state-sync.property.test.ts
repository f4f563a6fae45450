import { GuestMemory } from '@typevisor/memory';
import { Cpu, Seg, YMM_HI_BYTE } from '@typevisor/x86-cpu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../cpu-model.js';
import { kvm_fpu, kvm_regs, kvm_segment, kvm_sregs } from '../uapi/structs.js';
import { VcpuState } from '../vcpu-state.js';
import { StateViews, loadCpu, saveCpu } from './state-sync.js';

const R = kvm_regs.fields;
const S = kvm_sregs.fields;
const G = kvm_segment.fields;
const GPRS = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rsp',
  'rbp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
] as const;

/** A canonical 48-bit address as its u64: bits 63:47 all equal. */
const canonical = fc.bigInt({ min: -(1n << 47n), max: (1n << 47n) - 1n }).map((v) => BigInt.asUintN(64, v));
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

function setSeg(
  v: DataView,
  o: number,
  selector: number,
  type: number,
  base: bigint,
  extra: { l?: number; s?: number } = {},
) {
  v.setBigUint64(o + G.base.offset, base, true);
  v.setUint32(o + G.limit.offset, 0xffff_ffff, true);
  v.setUint16(o + G.selector.offset, selector, true);
  v.setUint8(o + G.type.offset, type);
  v.setUint8(o + G.present.offset, 1);
  v.setUint8(o + G.s.offset, extra.s ?? 1);
  v.setUint8(o + G.l.offset, extra.l ?? 0);
  v.setUint8(o + G.db.offset, extra.l ? 0 : 1);
  v.setUint8(o + G.g.offset, 1);
}

describe('kvm_regs/kvm_sregs <-> CPU in IA-32e mode (property)', () => {
  it('loadCpu then saveCpu gives back every 64-bit GPR, RIP, base, CR2/CR3 and descriptor-table base', () => {
    const cpu = new Cpu(GuestMemory.create(1 << 20), { model: DEFAULT_MODEL.cpu });
    const views = new StateViews(new VcpuState(0));
    fc.assert(
      fc.property(
        fc.array(u64, { minLength: 16, maxLength: 16 }),
        canonical,
        fc.tuple(canonical, canonical, canonical, canonical, canonical, canonical),
        fc.bigInt({ min: 0n, max: (1n << 28n) - 1n }).map((v) => v << 12n),
        fc.boolean(),
        (gprs, rip, [fs, gs, tr, gdt, idt, cr2], cr3, long) => {
          const r = views.regs;
          const s = views.sregs;
          for (const [i, k] of GPRS.entries()) r.setBigUint64(R[k].offset, gprs[i]!, true);
          // Outside 64-bit mode (compatibility mode: CS.L clear) RIP is EIP.
          const ripIn = long ? rip : rip & 0xffff_ffffn;
          r.setBigUint64(R.rip.offset, ripIn, true);
          r.setBigUint64(R.rflags.offset, 2n, true);
          setSeg(s, S.cs.offset, 8, 0xb, 0n, { l: long ? 1 : 0 });
          for (const o of [S.ds.offset, S.es.offset, S.ss.offset]) setSeg(s, o, 0x10, 3, 0n);
          setSeg(s, S.fs.offset, 0x10, 3, fs);
          setSeg(s, S.gs.offset, 0x10, 3, gs);
          setSeg(s, S.tr.offset, 0x18, 0xb, tr, { s: 0 });
          setSeg(s, S.ldt.offset, 0x20, 2, 0n, { s: 0 });
          s.setBigUint64(S.gdt.offset, gdt, true);
          s.setBigUint64(S.idt.offset, idt, true);
          s.setBigUint64(S.cr0.offset, 0x8000_0031n, true);
          s.setBigUint64(S.cr2.offset, cr2, true);
          s.setBigUint64(S.cr3.offset, cr3, true);
          s.setBigUint64(S.cr4.offset, 0x20n, true);
          s.setBigUint64(S.efer.offset, 0x500n, true);
          const before = Uint8Array.from(views.state.regs);
          const sBefore = Uint8Array.from(views.state.sregs);
          loadCpu(cpu, views, DEFAULT_MODEL);
          expect(cpu.ctrl.lma).toBe(true);
          expect(cpu.code64).toBe(long);
          if (long) expect(cpu.regs.ip).toBe(Number(BigInt.asIntN(64, rip)));
          expect(cpu.segs.base[Seg.GS]).toBe(Number(BigInt.asIntN(64, gs)));
          views.state.regs.fill(0);
          views.state.sregs.fill(0, 0, S.apic_base.offset);
          saveCpu(cpu, views);
          expect(Array.from(views.state.regs)).toEqual(Array.from(before));
          // Every field saveCpu writes (up to apic_base) comes back as it was (the L bit, EFER.LMA too).
          expect(Array.from(views.state.sregs.subarray(0, S.apic_base.offset))).toEqual(
            Array.from(sBefore.subarray(0, S.apic_base.offset)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('loadCpu then saveCpu gives back XMM0-XMM15 and the YMM upper halves, which land in the CPU register file', () => {
    const cpu = new Cpu(GuestMemory.create(1 << 20), { model: DEFAULT_MODEL.cpu });
    const views = new StateViews(new VcpuState(0));
    views.state.reset(true);
    const xmmAt = kvm_fpu.fields.xmm.offset;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        (xmm, ymmHi) => {
          views.state.fpu.set(xmm, xmmAt);
          views.state.ymmHi.set(ymmHi);
          loadCpu(cpu, views, DEFAULT_MODEL);
          expect(Array.from(cpu.fpu.sse.u8.subarray(0, 256))).toEqual(Array.from(xmm));
          expect(Array.from(cpu.fpu.sse.u8.subarray(YMM_HI_BYTE, YMM_HI_BYTE + 256))).toEqual(
            Array.from(ymmHi),
          );
          views.state.fpu.fill(0, xmmAt, xmmAt + 256);
          views.state.ymmHi.fill(0);
          saveCpu(cpu, views);
          expect(Array.from(views.state.fpu.subarray(xmmAt, xmmAt + 256))).toEqual(Array.from(xmm));
          expect(Array.from(views.state.ymmHi)).toEqual(Array.from(ymmHi));
        },
      ),
      { numRuns: 100 },
    );
  });
});
