/**
 * The VMCS fields of SDM Vol. 3D Appendix B as one typed table, keyed by their 32-bit encoding.
 *
 * Nothing about a field is written twice: width, type and access type are decoded from the encoding
 * bits (SDM 25.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields", Table 25-21):
 *
 * | bits  | meaning                                                                  |
 * |-------|--------------------------------------------------------------------------|
 * | 0     | access type: 0 = full, 1 = high (only for 64-bit fields)                  |
 * | 9:1   | index                                                                    |
 * | 11:10 | type: 0 control, 1 VM-exit information (read-only data), 2 guest, 3 host  |
 * | 12    | reserved, must be 0                                                      |
 * | 14:13 | width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural-width                      |
 * | 31:15 | reserved, must be 0                                                      |
 *
 * Each row also names the processor feature that makes the field exist (Appendix B: "this field is
 * supported only on processors that support the 1-setting of ..."), so which fields a VMREAD/VMWRITE
 * may reach follows from the capability model instead of being listed a second time.
 */

/** Field width, bits 14:13 of the encoding. */
export const FieldWidth = {
  Bits16: 0,
  Bits64: 1,
  Bits32: 2,
  Natural: 3,
} as const;
export type FieldWidth = (typeof FieldWidth)[keyof typeof FieldWidth];

/** Field type, bits 11:10 of the encoding. */
export const FieldType = {
  Control: 0,
  /** VM-exit information fields; read-only unless IA32_VMX_MISC bit 29 is set. */
  ReadOnlyData: 1,
  GuestState: 2,
  HostState: 3,
} as const;
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

/** Access type, bit 0 of the encoding. */
export const FieldAccess = {
  Full: 0,
  /** The upper 32 bits of a 64-bit field, as a 32-bit value. */
  High: 1,
} as const;
export type FieldAccess = (typeof FieldAccess)[keyof typeof FieldAccess];

export const fieldWidth = (encoding: number): FieldWidth => ((encoding >>> 13) & 3) as FieldWidth;
export const fieldType = (encoding: number): FieldType => ((encoding >>> 10) & 3) as FieldType;
export const fieldAccess = (encoding: number): FieldAccess => (encoding & 1) as FieldAccess;
export const fieldIndex = (encoding: number): number => (encoding >>> 1) & 0x1ff;

/** Bits that no field encoding sets: 31:15 and 12. */
export const ENCODING_RESERVED_MASK = 0xffff9000 | 0;

/**
 * A processor feature a field depends on. `base` fields exist on every VMX processor; the others
 * exist only where the capability model reports the feature (see `capabilities.ts`).
 */
export type VmxFeature =
  | 'base'
  | 'vpid'
  | 'posted-interrupts'
  | 'ept'
  | 've'
  | 'hlat'
  | 'ipi-virtualization'
  | 'virtual-interrupt-delivery'
  | 'pml'
  | 'tsc-offsetting'
  | 'tpr-shadow'
  | 'apic-access'
  | 'vmfunc'
  | 'vmcs-shadowing'
  | 'xsaves'
  | 'sgx'
  | 'spp'
  | 'tsc-scaling'
  | 'tertiary-controls'
  | 'pasid'
  | 'pconfig'
  | 'shared-eptp'
  | 'secondary-exit-controls'
  | 'spec-ctrl'
  | 'preemption-timer'
  | 'pause-loop-exiting'
  | 'instruction-timeout'
  | 'pat'
  | 'efer'
  | 'perf-global-ctrl'
  | 'bndcfgs'
  | 'rtit'
  | 'lbr'
  | 'pkrs'
  | 'cet'
  | 'uinv';

/** One row of the field table. */
export interface VmcsFieldDef {
  readonly name: string;
  /** The full-access encoding (bit 0 clear). */
  readonly encoding: number;
  readonly feature: VmxFeature;
}

/**
 * SDM Vol. 3D Appendix B, in encoding order. `[name, encoding, feature]`; the high-access encoding
 * of a 64-bit field is `encoding | 1` and has no row of its own.
 */
const TABLE = [
  // B.1.1 16-bit control fields
  ['VirtualProcessorId', 0x0000, 'vpid'],
  ['PostedInterruptNotificationVector', 0x0002, 'posted-interrupts'],
  ['EptpIndex', 0x0004, 've'],
  ['HlatPrefixSize', 0x0006, 'hlat'],
  ['LastPidPointerIndex', 0x0008, 'ipi-virtualization'],
  // B.1.2 16-bit guest-state fields
  ['GuestEsSelector', 0x0800, 'base'],
  ['GuestCsSelector', 0x0802, 'base'],
  ['GuestSsSelector', 0x0804, 'base'],
  ['GuestDsSelector', 0x0806, 'base'],
  ['GuestFsSelector', 0x0808, 'base'],
  ['GuestGsSelector', 0x080a, 'base'],
  ['GuestLdtrSelector', 0x080c, 'base'],
  ['GuestTrSelector', 0x080e, 'base'],
  ['GuestInterruptStatus', 0x0810, 'virtual-interrupt-delivery'],
  ['PmlIndex', 0x0812, 'pml'],
  ['GuestUinv', 0x0814, 'uinv'],
  // B.1.3 16-bit host-state fields
  ['HostEsSelector', 0x0c00, 'base'],
  ['HostCsSelector', 0x0c02, 'base'],
  ['HostSsSelector', 0x0c04, 'base'],
  ['HostDsSelector', 0x0c06, 'base'],
  ['HostFsSelector', 0x0c08, 'base'],
  ['HostGsSelector', 0x0c0a, 'base'],
  ['HostTrSelector', 0x0c0c, 'base'],
  // B.2.1 64-bit control fields
  ['IoBitmapA', 0x2000, 'base'],
  ['IoBitmapB', 0x2002, 'base'],
  ['MsrBitmap', 0x2004, 'base'],
  ['ExitMsrStoreAddress', 0x2006, 'base'],
  ['ExitMsrLoadAddress', 0x2008, 'base'],
  ['EntryMsrLoadAddress', 0x200a, 'base'],
  ['ExecutiveVmcsPointer', 0x200c, 'base'],
  ['PmlAddress', 0x200e, 'pml'],
  ['TscOffset', 0x2010, 'tsc-offsetting'],
  ['VirtualApicAddress', 0x2012, 'tpr-shadow'],
  ['ApicAccessAddress', 0x2014, 'apic-access'],
  ['PostedInterruptDescriptorAddress', 0x2016, 'posted-interrupts'],
  ['VmFunctionControls', 0x2018, 'vmfunc'],
  ['EptPointer', 0x201a, 'ept'],
  ['EoiExitBitmap0', 0x201c, 'virtual-interrupt-delivery'],
  ['EoiExitBitmap1', 0x201e, 'virtual-interrupt-delivery'],
  ['EoiExitBitmap2', 0x2020, 'virtual-interrupt-delivery'],
  ['EoiExitBitmap3', 0x2022, 'virtual-interrupt-delivery'],
  ['EptpListAddress', 0x2024, 'vmfunc'],
  ['VmreadBitmapAddress', 0x2026, 'vmcs-shadowing'],
  ['VmwriteBitmapAddress', 0x2028, 'vmcs-shadowing'],
  ['VirtualizationExceptionInfoAddress', 0x202a, 've'],
  ['XssExitingBitmap', 0x202c, 'xsaves'],
  ['EnclsExitingBitmap', 0x202e, 'sgx'],
  ['SubPagePermissionTablePointer', 0x2030, 'spp'],
  ['TscMultiplier', 0x2032, 'tsc-scaling'],
  ['TertiaryProcBasedControls', 0x2034, 'tertiary-controls'],
  ['EnclvExitingBitmap', 0x2036, 'sgx'],
  ['LowPasidDirectoryAddress', 0x2038, 'pasid'],
  ['HighPasidDirectoryAddress', 0x203a, 'pasid'],
  ['SharedEptPointer', 0x203c, 'shared-eptp'],
  ['PconfigExitingBitmap', 0x203e, 'pconfig'],
  ['HlatPointer', 0x2040, 'hlat'],
  ['PidPointerTableAddress', 0x2042, 'ipi-virtualization'],
  ['SecondaryExitControls', 0x2044, 'secondary-exit-controls'],
  ['SpecCtrlMask', 0x204a, 'spec-ctrl'],
  ['SpecCtrlShadow', 0x204c, 'spec-ctrl'],
  // B.2.2 64-bit read-only data field
  ['GuestPhysicalAddress', 0x2400, 'ept'],
  // B.2.3 64-bit guest-state fields
  ['VmcsLinkPointer', 0x2800, 'base'],
  ['GuestIa32Debugctl', 0x2802, 'base'],
  ['GuestIa32Pat', 0x2804, 'pat'],
  ['GuestIa32Efer', 0x2806, 'efer'],
  ['GuestIa32PerfGlobalCtrl', 0x2808, 'perf-global-ctrl'],
  ['GuestPdpte0', 0x280a, 'ept'],
  ['GuestPdpte1', 0x280c, 'ept'],
  ['GuestPdpte2', 0x280e, 'ept'],
  ['GuestPdpte3', 0x2810, 'ept'],
  ['GuestIa32Bndcfgs', 0x2812, 'bndcfgs'],
  ['GuestIa32RtitCtl', 0x2814, 'rtit'],
  ['GuestIa32LbrCtl', 0x2816, 'lbr'],
  ['GuestIa32Pkrs', 0x2818, 'pkrs'],
  // B.2.4 64-bit host-state fields
  ['HostIa32Pat', 0x2c00, 'pat'],
  ['HostIa32Efer', 0x2c02, 'efer'],
  ['HostIa32PerfGlobalCtrl', 0x2c04, 'perf-global-ctrl'],
  ['HostIa32Pkrs', 0x2c06, 'pkrs'],
  // B.3.1 32-bit control fields
  ['PinBasedControls', 0x4000, 'base'],
  ['ProcBasedControls', 0x4002, 'base'],
  ['ExceptionBitmap', 0x4004, 'base'],
  ['PageFaultErrorCodeMask', 0x4006, 'base'],
  ['PageFaultErrorCodeMatch', 0x4008, 'base'],
  ['Cr3TargetCount', 0x400a, 'base'],
  ['ExitControls', 0x400c, 'base'],
  ['ExitMsrStoreCount', 0x400e, 'base'],
  ['ExitMsrLoadCount', 0x4010, 'base'],
  ['EntryControls', 0x4012, 'base'],
  ['EntryMsrLoadCount', 0x4014, 'base'],
  ['EntryInterruptionInfo', 0x4016, 'base'],
  ['EntryExceptionErrorCode', 0x4018, 'base'],
  ['EntryInstructionLength', 0x401a, 'base'],
  ['TprThreshold', 0x401c, 'tpr-shadow'],
  ['SecondaryProcBasedControls', 0x401e, 'base'],
  ['PleGap', 0x4020, 'pause-loop-exiting'],
  ['PleWindow', 0x4022, 'pause-loop-exiting'],
  ['InstructionTimeoutControl', 0x4024, 'instruction-timeout'],
  // B.3.2 32-bit read-only data fields
  ['VmInstructionError', 0x4400, 'base'],
  ['ExitReason', 0x4402, 'base'],
  ['ExitInterruptionInfo', 0x4404, 'base'],
  ['ExitInterruptionErrorCode', 0x4406, 'base'],
  ['IdtVectoringInfo', 0x4408, 'base'],
  ['IdtVectoringErrorCode', 0x440a, 'base'],
  ['ExitInstructionLength', 0x440c, 'base'],
  ['ExitInstructionInfo', 0x440e, 'base'],
  // B.3.3 32-bit guest-state fields
  ['GuestEsLimit', 0x4800, 'base'],
  ['GuestCsLimit', 0x4802, 'base'],
  ['GuestSsLimit', 0x4804, 'base'],
  ['GuestDsLimit', 0x4806, 'base'],
  ['GuestFsLimit', 0x4808, 'base'],
  ['GuestGsLimit', 0x480a, 'base'],
  ['GuestLdtrLimit', 0x480c, 'base'],
  ['GuestTrLimit', 0x480e, 'base'],
  ['GuestGdtrLimit', 0x4810, 'base'],
  ['GuestIdtrLimit', 0x4812, 'base'],
  ['GuestEsAccessRights', 0x4814, 'base'],
  ['GuestCsAccessRights', 0x4816, 'base'],
  ['GuestSsAccessRights', 0x4818, 'base'],
  ['GuestDsAccessRights', 0x481a, 'base'],
  ['GuestFsAccessRights', 0x481c, 'base'],
  ['GuestGsAccessRights', 0x481e, 'base'],
  ['GuestLdtrAccessRights', 0x4820, 'base'],
  ['GuestTrAccessRights', 0x4822, 'base'],
  ['GuestInterruptibilityState', 0x4824, 'base'],
  ['GuestActivityState', 0x4826, 'base'],
  ['GuestSmbase', 0x4828, 'base'],
  ['GuestIa32SysenterCs', 0x482a, 'base'],
  ['PreemptionTimerValue', 0x482e, 'preemption-timer'],
  // B.3.4 32-bit host-state field
  ['HostIa32SysenterCs', 0x4c00, 'base'],
  // B.4.1 natural-width control fields
  ['Cr0GuestHostMask', 0x6000, 'base'],
  ['Cr4GuestHostMask', 0x6002, 'base'],
  ['Cr0ReadShadow', 0x6004, 'base'],
  ['Cr4ReadShadow', 0x6006, 'base'],
  ['Cr3TargetValue0', 0x6008, 'base'],
  ['Cr3TargetValue1', 0x600a, 'base'],
  ['Cr3TargetValue2', 0x600c, 'base'],
  ['Cr3TargetValue3', 0x600e, 'base'],
  // B.4.2 natural-width read-only data fields
  ['ExitQualification', 0x6400, 'base'],
  ['IoRcx', 0x6402, 'base'],
  ['IoRsi', 0x6404, 'base'],
  ['IoRdi', 0x6406, 'base'],
  ['IoRip', 0x6408, 'base'],
  ['GuestLinearAddress', 0x640a, 'base'],
  // B.4.3 natural-width guest-state fields
  ['GuestCr0', 0x6800, 'base'],
  ['GuestCr3', 0x6802, 'base'],
  ['GuestCr4', 0x6804, 'base'],
  ['GuestEsBase', 0x6806, 'base'],
  ['GuestCsBase', 0x6808, 'base'],
  ['GuestSsBase', 0x680a, 'base'],
  ['GuestDsBase', 0x680c, 'base'],
  ['GuestFsBase', 0x680e, 'base'],
  ['GuestGsBase', 0x6810, 'base'],
  ['GuestLdtrBase', 0x6812, 'base'],
  ['GuestTrBase', 0x6814, 'base'],
  ['GuestGdtrBase', 0x6816, 'base'],
  ['GuestIdtrBase', 0x6818, 'base'],
  ['GuestDr7', 0x681a, 'base'],
  ['GuestRsp', 0x681c, 'base'],
  ['GuestRip', 0x681e, 'base'],
  ['GuestRflags', 0x6820, 'base'],
  ['GuestPendingDebugExceptions', 0x6822, 'base'],
  ['GuestIa32SysenterEsp', 0x6824, 'base'],
  ['GuestIa32SysenterEip', 0x6826, 'base'],
  ['GuestIa32SCet', 0x6828, 'cet'],
  ['GuestSsp', 0x682a, 'cet'],
  ['GuestIa32InterruptSspTableAddr', 0x682c, 'cet'],
  // B.4.4 natural-width host-state fields
  ['HostCr0', 0x6c00, 'base'],
  ['HostCr3', 0x6c02, 'base'],
  ['HostCr4', 0x6c04, 'base'],
  ['HostFsBase', 0x6c06, 'base'],
  ['HostGsBase', 0x6c08, 'base'],
  ['HostTrBase', 0x6c0a, 'base'],
  ['HostGdtrBase', 0x6c0c, 'base'],
  ['HostIdtrBase', 0x6c0e, 'base'],
  ['HostIa32SysenterEsp', 0x6c10, 'base'],
  ['HostIa32SysenterEip', 0x6c12, 'base'],
  ['HostRsp', 0x6c14, 'base'],
  ['HostRip', 0x6c16, 'base'],
  ['HostIa32SCet', 0x6c18, 'cet'],
  ['HostSsp', 0x6c1a, 'cet'],
  ['HostIa32InterruptSspTableAddr', 0x6c1c, 'cet'],
] as const satisfies readonly (readonly [string, number, VmxFeature])[];

export type VmcsFieldName = (typeof TABLE)[number][0];

/** Every field of Appendix B, in encoding order. Index in this array = the field's slot. */
export const VMCS_FIELDS: readonly VmcsFieldDef[] = TABLE.map(([name, encoding, feature]) => ({
  name,
  encoding,
  feature,
}));

/** Field name -> full-access encoding, e.g. `VmcsField.GuestRip === 0x681e`. */
export const VmcsField: { readonly [K in VmcsFieldName]: number } = Object.freeze(
  Object.fromEntries(TABLE.map(([name, encoding]) => [name, encoding])) as {
    [K in VmcsFieldName]: number;
  },
);

/** The high-access encoding of a 64-bit field. */
export const highAccess = (encoding: number): number => encoding | 1;

/** Number of fields in the table (= number of slots of a VMCS store). */
export const FIELD_COUNT = VMCS_FIELDS.length;

/** Full-access encoding (bits 14:0) -> slot, or -1. Encodings are < 0x8000 once reserved bits are 0. */
const SLOT_BY_ENCODING = new Int16Array(0x8000).fill(-1);
for (let i = 0; i < VMCS_FIELDS.length; i++) SLOT_BY_ENCODING[VMCS_FIELDS[i]!.encoding] = i;

/**
 * The slot of the field an encoding names, or -1 when the encoding corresponds to no field of
 * Appendix B: reserved bits set, an unknown index, or high access to a field that is not 64-bit.
 */
export function slotOf(encoding: number): number {
  if ((encoding & ENCODING_RESERVED_MASK) !== 0) return -1;
  if ((encoding & 1) !== 0 && fieldWidth(encoding) !== FieldWidth.Bits64) return -1;
  return SLOT_BY_ENCODING[encoding & 0x7ffe]!;
}

/** The table row for an encoding (full or high access), if there is one. */
export function fieldDef(encoding: number): VmcsFieldDef | undefined {
  const s = slotOf(encoding);
  return s < 0 ? undefined : VMCS_FIELDS[s];
}

/** Human-readable name of an encoding, e.g. `GuestRip` or `EptPointer(high)`. */
export function fieldName(encoding: number): string {
  const d = fieldDef(encoding);
  if (d === undefined) return `unknown(0x${(encoding >>> 0).toString(16)})`;
  return (encoding & 1) !== 0 ? `${d.name}(high)` : d.name;
}

/** Highest index (bits 9:1) of any field whose feature is in `features`, for IA32_VMX_VMCS_ENUM. */
export function highestFieldIndex(features: ReadonlySet<VmxFeature>): number {
  let max = 0;
  for (const f of VMCS_FIELDS) {
    if (features.has(f.feature)) max = Math.max(max, fieldIndex(f.encoding));
  }
  return max;
}
