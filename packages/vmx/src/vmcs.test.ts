import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { VmInstructionError } from './exit-reasons.js';
import { FIELD_COUNT, VMCS_FIELDS, VmcsField as F, slotOf } from './fields.js';
import {
  LaunchState,
  Vmcs,
  VmcsRegion,
  readAbortIndicator,
  readRevisionId,
  writeAbortIndicator,
} from './vmcs.js';

const caps = createVmxCapabilities();
const out = new Uint32Array(2);
const LONG = true;
const LEGACY = false;

describe('Vmcs model access', () => {
  it('masks values to the field width', () => {
    const v = new Vmcs(caps);
    v.write32(F.GuestCsSelector, 0x1_2345);
    expect(v.read32(F.GuestCsSelector)).toBe(0x2345);
    v.write64(F.ExitControls, 0xdead_beef, 0x1234);
    expect([v.readLo(F.ExitControls), v.readHi(F.ExitControls)]).toEqual([0xdead_beef, 0]);
    v.write64(F.GuestRip, 0xffff_f000, 0xffff_ffff);
    expect([v.readLo(F.GuestRip), v.readHi(F.GuestRip)]).toEqual([0xffff_f000, 0xffff_ffff]);
  });

  it('reads a 64-bit field as a number when it fits 53 bits', () => {
    const v = new Vmcs(caps);
    v.write64(F.EptPointer, 0x5000_001e, 0x12);
    expect(v.readNumber(F.EptPointer)).toBe(0x12_5000_001e);
    v.write64(F.EptPointer, 0, 0x20_0000);
    expect(v.readNumber(F.EptPointer)).toBeNaN();
  });

  it('throws on encodings that are not table fields (a programming error, not a guest one)', () => {
    const v = new Vmcs(caps);
    expect(() => v.read32(0x1234)).toThrow(RangeError);
    expect(() => v.read32(F.EptPointer | 1)).toThrow(RangeError);
  });

  it('knows which fields this processor supports', () => {
    const v = new Vmcs(caps);
    expect(v.isSupported(F.EptPointer)).toBe(true);
    expect(v.isSupported(F.EptPointer | 1)).toBe(true);
    expect(v.isSupported(F.PostedInterruptNotificationVector)).toBe(false);
    expect(v.isSupported(F.XssExitingBitmap)).toBe(false);
    expect(new Vmcs(createVmxCapabilities({ xsaves: true })).isSupported(F.XssExitingBitmap)).toBe(true);
  });
});

describe('VMREAD rules', () => {
  it('reads 16- and 32-bit fields zero-extended', () => {
    const v = new Vmcs(caps);
    v.write32(F.GuestCsSelector, 0x08);
    expect(v.vmread(F.GuestCsSelector, 0, LONG, out)).toBe(0);
    expect([...out]).toEqual([8, 0]);
  });

  it('reads a 64-bit field whole in 64-bit mode and only bits 31:0 outside it', () => {
    const v = new Vmcs(caps);
    v.write64(F.TscOffset, 0x1111_2222, 0x3333_4444);
    v.vmread(F.TscOffset, 0, LONG, out);
    expect([...out]).toEqual([0x1111_2222, 0x3333_4444]);
    v.vmread(F.TscOffset, 0, LEGACY, out);
    expect([...out]).toEqual([0x1111_2222, 0]);
  });

  it('reads bits 63:32 of a 64-bit field through its high-access encoding', () => {
    const v = new Vmcs(caps);
    v.write64(F.TscOffset, 0x1111_2222, 0x3333_4444);
    v.vmread(F.TscOffset | 1, 0, LONG, out);
    expect([...out]).toEqual([0x3333_4444, 0]);
  });

  it('truncates natural-width fields to 32 bits outside 64-bit mode', () => {
    const v = new Vmcs(caps);
    v.write64(F.GuestRip, 0x8000_0000, 0xffff_ffff);
    v.vmread(F.GuestRip, 0, LEGACY, out);
    expect([...out]).toEqual([0x8000_0000, 0]);
  });

  it('fails with error 12 for unsupported components', () => {
    const v = new Vmcs(caps);
    expect(v.vmread(0x1234, 0, LONG, out)).toBe(VmInstructionError.UnsupportedVmcsComponent);
    expect(v.vmread(F.PostedInterruptNotificationVector, 0, LONG, out)).toBe(12);
    expect(v.vmread(F.GuestRip | 1, 0, LONG, out)).toBe(12);
    expect(v.vmread(F.GuestRip, 1, LONG, out)).toBe(12); // bits 63:32 of the encoding register
  });
});

describe('VMWRITE rules', () => {
  it('ignores the high bits of an operand wider than the field', () => {
    const v = new Vmcs(caps);
    expect(v.vmwrite(F.GuestCsSelector, 0, 0xabcd_0008, 0xffff_ffff, LONG)).toBe(0);
    expect(v.read32(F.GuestCsSelector)).toBe(0x0008);
    v.vmwrite(F.ExceptionBitmap, 0, 0x4000, 0xffff_ffff, LONG);
    expect([v.readLo(F.ExceptionBitmap), v.readHi(F.ExceptionBitmap)]).toEqual([0x4000, 0]);
  });

  it('clears the high bits of a field wider than the operand (32-bit mode)', () => {
    const v = new Vmcs(caps);
    v.write64(F.GuestRsp, 1, 0xffff_ffff);
    v.vmwrite(F.GuestRsp, 0, 0x7000, 0xdead, LEGACY);
    expect([v.readLo(F.GuestRsp), v.readHi(F.GuestRsp)]).toEqual([0x7000, 0]);
    v.vmwrite(F.MsrBitmap, 0, 0x3000, 0xdead, LEGACY);
    expect(v.readHi(F.MsrBitmap)).toBe(0);
  });

  it('writes bits 63:32 only through the high-access encoding', () => {
    const v = new Vmcs(caps);
    v.vmwrite(F.EptPointer, 0, 0x501e, 0, LEGACY);
    v.vmwrite(F.EptPointer | 1, 0, 0x12, 0, LEGACY);
    expect([v.readLo(F.EptPointer), v.readHi(F.EptPointer)]).toEqual([0x501e, 0x12]);
  });

  it('fails with error 13 for read-only fields unless IA32_VMX_MISC[29] allows it', () => {
    const v = new Vmcs(caps);
    expect(v.vmwrite(F.ExitReason, 0, 1, 0, LONG)).toBe(VmInstructionError.VmwriteReadOnlyComponent);
    expect(v.vmwrite(F.GuestPhysicalAddress | 1, 0, 1, 0, LONG)).toBe(13);
    const w = new Vmcs(createVmxCapabilities({ writableExitInfo: true }));
    expect(w.vmwrite(F.ExitQualification, 0, 7, 0, LONG)).toBe(0);
    expect(w.read32(F.ExitQualification)).toBe(7);
  });

  it('reports error 12 before error 13', () => {
    const v = new Vmcs(caps);
    expect(v.vmwrite(F.ExitReason | 1, 0, 1, 0, LONG)).toBe(12);
  });
});

describe('the VMCS region in guest memory', () => {
  it('stores launch state and fields at the documented offsets, leaving revision id and abort indicator', () => {
    const mem = GuestMemory.create(0x4000);
    const gpa = 0x2000;
    mem.write32(gpa, caps.revisionId);
    writeAbortIndicator(mem, gpa, 3);
    const v = new Vmcs(caps);
    v.write64(F.GuestRip, 0x1234_5678, 0x9abc);
    v.launchState = LaunchState.Launched;
    v.storeRegion(mem, gpa);
    expect(readRevisionId(mem, gpa)).toBe(caps.revisionId);
    expect(readAbortIndicator(mem, gpa)).toBe(3);
    expect(mem.read32(gpa + VmcsRegion.LaunchState)).toBe(1);
    const at = gpa + VmcsRegion.Data + 8 * slotOf(F.GuestRip);
    expect([mem.read32(at), mem.read32(at + 4)]).toEqual([0x1234_5678, 0x9abc]);
    expect(VmcsRegion.Data + 8 * FIELD_COUNT).toBeLessThanOrEqual(VmcsRegion.Size);
  });

  it('round-trips every field, masked to its width, through memory', () => {
    const mem = GuestMemory.create(0x4000);
    const a = new Vmcs(caps);
    for (let i = 0; i < VMCS_FIELDS.length; i++) {
      a.write64(VMCS_FIELDS[i]!.encoding, (i * 0x9e37_79b9) >>> 0, (i * 0x85eb_ca6b) >>> 0);
    }
    a.launchState = LaunchState.Launched;
    a.storeRegion(mem, 0x1000);
    const b = new Vmcs(caps);
    b.loadRegion(mem, 0x1000);
    expect([...b.values]).toEqual([...a.values]);
    expect(b.launchState).toBe(LaunchState.Launched);
    expect(b.read32(F.GuestCsSelector)).toBeLessThanOrEqual(0xffff);
    expect(b.readHi(F.ExitReason)).toBe(0);
  });
});
