import { describe, expect, it } from 'vitest';
import {
  FIELD_COUNT,
  FieldAccess,
  FieldType,
  FieldWidth,
  VMCS_FIELDS,
  VmcsField,
  fieldAccess,
  fieldDef,
  fieldIndex,
  fieldName,
  fieldType,
  fieldWidth,
  highAccess,
  highestFieldIndex,
  slotOf,
} from './fields.js';

describe('field encodings', () => {
  it('decode width, type, access and index from the encoding bits (SDM Table 25-21)', () => {
    // Guest RIP: natural-width guest-state field, index 15.
    expect(fieldWidth(VmcsField.GuestRip)).toBe(FieldWidth.Natural);
    expect(fieldType(VmcsField.GuestRip)).toBe(FieldType.GuestState);
    expect(fieldIndex(VmcsField.GuestRip)).toBe(15);
    expect(fieldAccess(VmcsField.GuestRip)).toBe(FieldAccess.Full);
    // EPT pointer: 64-bit control field; its high access encoding is 0x201b.
    expect(fieldWidth(VmcsField.EptPointer)).toBe(FieldWidth.Bits64);
    expect(fieldType(VmcsField.EptPointer)).toBe(FieldType.Control);
    expect(highAccess(VmcsField.EptPointer)).toBe(0x201b);
    expect(fieldAccess(0x201b)).toBe(FieldAccess.High);
    // Exit reason: 32-bit read-only data field.
    expect(fieldWidth(VmcsField.ExitReason)).toBe(FieldWidth.Bits32);
    expect(fieldType(VmcsField.ExitReason)).toBe(FieldType.ReadOnlyData);
    // Host TR selector: 16-bit host-state field.
    expect(fieldWidth(VmcsField.HostTrSelector)).toBe(FieldWidth.Bits16);
    expect(fieldType(VmcsField.HostTrSelector)).toBe(FieldType.HostState);
  });

  it('lists every Appendix B field once, in encoding order, with full-access encodings', () => {
    const encodings = VMCS_FIELDS.map((f) => f.encoding);
    expect(new Set(encodings).size).toBe(encodings.length);
    expect([...encodings].sort((a, b) => a - b)).toEqual(encodings);
    for (const e of encodings) expect(e & 0xffff9001).toBe(0);
    expect(FIELD_COUNT).toBe(VMCS_FIELDS.length);
    expect(new Set(VMCS_FIELDS.map((f) => f.name)).size).toBe(FIELD_COUNT);
  });

  it('names each field after the section its encoding bits place it in', () => {
    for (const f of VMCS_FIELDS) {
      const t = fieldType(f.encoding);
      if (t === FieldType.GuestState) expect(f.name).toMatch(/^(Guest|VmcsLink|Pml|PreemptionTimer)/);
      if (t === FieldType.HostState) expect(f.name).toMatch(/^Host/);
      if (
        fieldWidth(f.encoding) === FieldWidth.Bits16 &&
        t === FieldType.GuestState &&
        f.name.endsWith('Selector')
      ) {
        expect((f.encoding >> 1) & 7).toBe(
          ['Es', 'Cs', 'Ss', 'Ds', 'Fs', 'Gs', 'Ldtr', 'Tr'].indexOf(f.name.slice(5, -8)),
        );
      }
    }
  });

  it('has the field counts of each width/type group that Appendix B lists', () => {
    const count = (w: number, t: number) =>
      VMCS_FIELDS.filter((f) => fieldWidth(f.encoding) === w && fieldType(f.encoding) === t).length;
    expect(count(FieldWidth.Bits16, FieldType.GuestState)).toBe(11);
    expect(count(FieldWidth.Bits16, FieldType.HostState)).toBe(7);
    expect(count(FieldWidth.Bits64, FieldType.ReadOnlyData)).toBe(1);
    expect(count(FieldWidth.Bits32, FieldType.ReadOnlyData)).toBe(8);
    expect(count(FieldWidth.Bits32, FieldType.HostState)).toBe(1);
    expect(count(FieldWidth.Natural, FieldType.Control)).toBe(8);
    expect(count(FieldWidth.Natural, FieldType.ReadOnlyData)).toBe(6);
    expect(count(FieldWidth.Natural, FieldType.HostState)).toBe(15);
  });
});

describe('slotOf', () => {
  it('maps full and high access of a 64-bit field to the same slot', () => {
    expect(slotOf(VmcsField.TscOffset)).toBeGreaterThanOrEqual(0);
    expect(slotOf(highAccess(VmcsField.TscOffset))).toBe(slotOf(VmcsField.TscOffset));
  });

  it('rejects high access to 16-bit, 32-bit and natural-width fields', () => {
    expect(slotOf(VmcsField.GuestCsSelector | 1)).toBe(-1);
    expect(slotOf(VmcsField.ExitReason | 1)).toBe(-1);
    expect(slotOf(VmcsField.GuestRip | 1)).toBe(-1);
  });

  it('rejects reserved bits 12 and 31:15, and unknown indices', () => {
    expect(slotOf(VmcsField.GuestRip | 0x1000)).toBe(-1);
    expect(slotOf(VmcsField.GuestRip | 0x8000)).toBe(-1);
    expect(slotOf(VmcsField.GuestRip | 0x1_0000)).toBe(-1);
    expect(slotOf(0x482c)).toBe(-1); // between SYSENTER_CS and the preemption timer
    expect(slotOf(0x6c40)).toBe(-1);
  });

  it('gives the table row and a readable name', () => {
    expect(fieldDef(0x681e)?.name).toBe('GuestRip');
    expect(fieldName(0x201b)).toBe('EptPointer(high)');
    expect(fieldName(0x1234)).toBe('unknown(0x1234)');
  });
});

describe('highestFieldIndex', () => {
  it('is the largest bits 9:1 over the fields of the given features', () => {
    expect(highestFieldIndex(new Set(['base']))).toBe(0x15); // GuestIa32SysenterCs, 0x482a
    expect(highestFieldIndex(new Set(['base', 'preemption-timer']))).toBe(0x17); // 0x482e
    expect(highestFieldIndex(new Set(['base', 'spec-ctrl']))).toBe(0x26); // 0x204c
  });
});
