import { GuestMemory } from '@typevisor/memory';
import { EntryCtl, Vmcs, VmcsField as F, createVmxCapabilities } from '@typevisor/vmx';
import { describe, expect, it } from 'vitest';
import { kvm_regs, kvm_segment, kvm_sregs } from '../uapi/structs.js';
import { VcpuState } from '../vcpu-state.js';
import { StateViews } from './state-sync.js';
import { DEFAULT_VMX_OPTIONS, VMX_LAYOUT, entryFailure, initVmcs, writeGuestState } from './vmcs-setup.js';

const seg = (
  v: DataView,
  o: number,
  f: {
    selector: number;
    type: number;
    base?: bigint;
    limit?: number;
    l?: number;
    db?: number;
    s?: number;
    g?: number;
  },
): void => {
  const G = kvm_segment.fields;
  v.setBigUint64(o + G.base.offset, f.base ?? 0n, true);
  v.setUint32(o + G.limit.offset, f.limit ?? 0xffff_ffff, true);
  v.setUint16(o + G.selector.offset, f.selector, true);
  v.setUint8(o + G.type.offset, f.type);
  v.setUint8(o + G.present.offset, 1);
  v.setUint8(o + G.dpl.offset, 0);
  v.setUint8(o + G.db.offset, f.db ?? 1);
  v.setUint8(o + G.s.offset, f.s ?? 1);
  v.setUint8(o + G.l.offset, f.l ?? 0);
  v.setUint8(o + G.g.offset, f.g ?? 1);
  v.setUint8(o + G.unusable.offset, 0);
};

/** A vCPU's kvm_regs/kvm_sregs in IA-32e mode with 64-bit RIP, RSP, CR3 and bases, and its VMCS. */
function build(): {
  views: StateViews;
  vmcs: Vmcs;
  caps: ReturnType<typeof createVmxCapabilities>;
  mem: GuestMemory;
} {
  const views = new StateViews(new VcpuState(0));
  const s = views.sregs;
  const S = kvm_sregs.fields;
  seg(s, S.cs.offset, { selector: 8, type: 0xb, l: 1, db: 0 });
  for (const o of [S.ds.offset, S.es.offset, S.ss.offset]) seg(s, o, { selector: 0x10, type: 3 });
  seg(s, S.fs.offset, { selector: 0x10, type: 3, base: 0x7fff_0000_1000n });
  seg(s, S.gs.offset, { selector: 0x10, type: 3, base: 0xffff_ffff_8100_0000n });
  seg(s, S.tr.offset, {
    selector: 0x18,
    type: 0xb,
    s: 0,
    db: 0,
    g: 0,
    limit: 0x67,
    base: 0xffff_8000_0000_2000n,
  });
  seg(s, S.ldt.offset, { selector: 0, type: 2, s: 0, db: 0, g: 0, limit: 0xffff });
  s.setBigUint64(S.gdt.offset, 0xffff_8000_0000_0500n, true);
  s.setUint16(S.gdt.offset + 8, 0x27, true);
  s.setBigUint64(S.idt.offset, 0xffff_8000_0000_0000n, true);
  s.setUint16(S.idt.offset + 8, 0xfff, true);
  s.setBigUint64(S.cr0.offset, 0x8000_0031n, true);
  s.setBigUint64(S.cr3.offset, 0x12_3456_7000n, true);
  s.setBigUint64(S.cr4.offset, 0x20n, true);
  s.setBigUint64(S.efer.offset, 0x501n, true);
  const r = views.regs;
  r.setBigUint64(kvm_regs.fields.rip.offset, 0xffff_ffff_8000_1000n, true);
  r.setBigUint64(kvm_regs.fields.rsp.offset, 0xffff_ffff_8000_9000n, true);
  r.setBigUint64(kvm_regs.fields.rflags.offset, 2n, true);
  const caps = createVmxCapabilities({ physicalAddressWidth: 40 });
  const vmcs = new Vmcs(caps);
  const mem = GuestMemory.create(VMX_LAYOUT.size);
  initVmcs(vmcs, caps, DEFAULT_VMX_OPTIONS, mem, 1, 0x1e);
  return { views, vmcs, caps, mem };
}

const u64 = (vmcs: Vmcs, f: number): bigint => (BigInt(vmcs.readHi(f)) << 32n) | BigInt(vmcs.readLo(f));

describe("the facade's VMCS for a 64-bit guest", () => {
  it('sets "IA-32e mode guest" from EFER.LMA and writes RIP, RSP, CR3 and the bases with both halves', () => {
    const { views, vmcs, caps, mem } = build();
    writeGuestState(vmcs, views, DEFAULT_VMX_OPTIONS, 0, 0);
    expect(vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest).toBe(EntryCtl.Ia32eModeGuest);
    expect(u64(vmcs, F.GuestRip)).toBe(0xffff_ffff_8000_1000n);
    expect(u64(vmcs, F.GuestRsp)).toBe(0xffff_ffff_8000_9000n);
    expect(u64(vmcs, F.GuestCr3)).toBe(0x12_3456_7000n);
    expect(u64(vmcs, F.GuestFsBase)).toBe(0x7fff_0000_1000n);
    expect(u64(vmcs, F.GuestGsBase)).toBe(0xffff_ffff_8100_0000n);
    expect(u64(vmcs, F.GuestTrBase)).toBe(0xffff_8000_0000_2000n);
    expect(u64(vmcs, F.GuestGdtrBase)).toBe(0xffff_8000_0000_0500n);
    expect(u64(vmcs, F.GuestIdtrBase)).toBe(0xffff_8000_0000_0000n);
    expect(vmcs.read32(F.GuestCsAccessRights) & 0x6000).toBe(0x2000); // L, not D
    expect(entryFailure(vmcs, caps, mem)).toBeNull();
  });

  it('clears the control again when the guest leaves IA-32e mode (EFER.LMA clear, CS.L clear)', () => {
    const { views, vmcs, caps, mem } = build();
    writeGuestState(vmcs, views, DEFAULT_VMX_OPTIONS, 0, 0);
    const S = kvm_sregs.fields;
    views.sregs.setBigUint64(S.efer.offset, 0n, true);
    views.sregs.setBigUint64(S.cr0.offset, 0x11n, true);
    views.sregs.setUint8(S.cs.offset + kvm_segment.fields.l.offset, 0);
    views.sregs.setUint8(S.cs.offset + kvm_segment.fields.db.offset, 1);
    for (const o of [S.fs.offset, S.gs.offset, S.tr.offset]) views.sregs.setBigUint64(o, 0n, true);
    views.sregs.setBigUint64(S.gdt.offset, 0x500n, true);
    views.sregs.setBigUint64(S.idt.offset, 0n, true);
    views.regs.setBigUint64(kvm_regs.fields.rip.offset, 0x1000n, true);
    views.regs.setBigUint64(kvm_regs.fields.rsp.offset, 0x9000n, true);
    writeGuestState(vmcs, views, DEFAULT_VMX_OPTIONS, 0, 0);
    expect(vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest).toBe(0);
    expect(entryFailure(vmcs, caps, mem)).toBeNull();
  });

  it('fails the entry for IA-32e rule breaks: CS.L with CS.D, a non-canonical RIP or GS base, LMA without PAE', () => {
    const S = kvm_sregs.fields;
    const cases: [string, (v: StateViews) => void][] = [
      ['cs-long-and-default', (v) => v.sregs.setUint8(S.cs.offset + kvm_segment.fields.db.offset, 1)],
      ['guest-rip', (v) => v.regs.setBigUint64(kvm_regs.fields.rip.offset, 0x8000_0000_0000n, true)],
      ['base-canonical', (v) => v.sregs.setBigUint64(S.gs.offset, 0x8000_0000_0000n, true)],
      ['guest-ia32e-paging', (v) => v.sregs.setBigUint64(S.cr4.offset, 0n, true)],
    ];
    for (const [check, breakIt] of cases) {
      const { views, vmcs, caps, mem } = build();
      breakIt(views);
      writeGuestState(vmcs, views, DEFAULT_VMX_OPTIONS, 0, 0);
      expect(entryFailure(vmcs, caps, mem)?.failure, check).toMatchObject({ check });
    }
  });
});
