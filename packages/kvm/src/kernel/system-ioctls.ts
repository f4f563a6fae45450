import type { KvmCpuModel } from '../cpu-model.js';
import { KVM_VCPU_MMAP_SIZE } from '../vcpu-state.js';
import { KVM_API_VERSION, KVM_MAX_CPUID_ENTRIES, KVM_X86_DEFAULT_VM } from '../uapi/constants.js';
import { E2BIG, EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { kvm_cpuid_entry2, kvm_cpuid2, kvm_msr_list } from '../uapi/structs.js';
import { dv, FAULT, type IoctlArg, structArg, valueArg } from './args.js';
import type { KernelContext } from './context.js';

/** What a /dev/kvm ioctl handler needs besides the kernel services: a way to make a VM fd. */
export interface SystemContext extends KernelContext<unknown> {
  /** Creates a VM of `type` (already validated) and returns its fd or a negative errno. */
  createVm(): number;
}

type SystemIoctl = (k: SystemContext, arg: IoctlArg) => number;

/** `if (arg) goto out;`: the argument must be 0. */
const noArg =
  (value: (k: SystemContext) => number): SystemIoctl =>
  (k, arg) =>
    valueArg(arg) !== 0 ? -EINVAL : value(k);

/** kvm_dev_ioctl_create_vm(): only KVM_X86_DEFAULT_VM (kvm_is_vm_type_supported). */
const createVm: SystemIoctl = (k, arg) => (valueArg(arg) !== KVM_X86_DEFAULT_VM ? -EINVAL : k.createVm());

const checkExtension: SystemIoctl = (k, arg) =>
  typeof arg === 'number' ? (k.capabilities.get(arg) ?? 0) : 0;

/**
 * KVM_GET_MSR_INDEX_LIST: nmsrs is always written back with the real count; -E2BIG if the caller's
 * count was smaller, otherwise the indices follow the header.
 */
const getMsrIndexList: SystemIoctl = (k, arg) => msrList(k.model.msrIndices, arg);

/**
 * KVM_GET_MSR_FEATURE_INDEX_LIST: the feature MSRs KVM_GET_MSRS on /dev/kvm reports. The model has none
 * (no ARCH_CAPABILITIES, no nested VMX MSRs), so the list is empty and KVM_CAP_GET_MSR_FEATURES is 0.
 */
const getMsrFeatureIndexList: SystemIoctl = (_k, arg) => msrList([], arg);

function msrList(list: readonly number[], arg: IoctlArg): number {
  const b = structArg(arg, kvm_msr_list.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const n = v.getUint32(0, true);
  v.setUint32(0, list.length, true);
  if (n < list.length) return -E2BIG;
  if (b.byteLength < kvm_msr_list.size + 4 * list.length) return FAULT;
  list.forEach((index, i) => {
    v.setUint32(kvm_msr_list.size + 4 * i, index, true);
  });
  return 0;
}

/** Writes the model's CPUID entries after a kvm_cpuid2 header. */
function writeCpuid(model: KvmCpuModel, b: Uint8Array): void {
  const v = dv(b);
  const f = kvm_cpuid_entry2.fields;
  model.cpuid.forEach((e, i) => {
    const o = kvm_cpuid2.size + i * kvm_cpuid_entry2.size;
    b.fill(0, o, o + kvm_cpuid_entry2.size);
    v.setUint32(o + f.function.offset, e.function, true);
    v.setUint32(o + f.index.offset, e.index, true);
    v.setUint32(o + f.flags.offset, e.flags, true);
    v.setUint32(o + f.eax.offset, e.eax, true);
    v.setUint32(o + f.ebx.offset, e.ebx, true);
    v.setUint32(o + f.ecx.offset, e.ecx, true);
    v.setUint32(o + f.edx.offset, e.edx, true);
  });
}

/**
 * kvm_dev_ioctl_get_cpuid(): -E2BIG for nent < 1 or fewer slots than entries (nent is then left
 * alone); on success nent is set to the number of entries written.
 */
const getSupportedCpuid: SystemIoctl = (k, arg) => {
  const b = structArg(arg, kvm_cpuid2.size);
  if (b === null) return FAULT;
  const v = dv(b);
  let nent = v.getUint32(0, true);
  if (nent < 1) return -E2BIG;
  if (nent > KVM_MAX_CPUID_ENTRIES) nent = KVM_MAX_CPUID_ENTRIES;
  const entries = k.model.cpuid.length;
  if (nent < entries) return -E2BIG;
  if (b.byteLength < kvm_cpuid2.size + entries * kvm_cpuid_entry2.size) return FAULT;
  writeCpuid(k.model, b);
  v.setUint32(0, entries, true);
  return 0;
};

/** The /dev/kvm ioctls; every other request is -EINVAL (kvm_arch_dev_ioctl default). */
export const SYSTEM_IOCTLS: ReadonlyMap<number, SystemIoctl> = new Map<number, SystemIoctl>([
  [I.KVM_GET_API_VERSION, noArg(() => KVM_API_VERSION)],
  [I.KVM_CREATE_VM, createVm],
  [I.KVM_CHECK_EXTENSION, checkExtension],
  [I.KVM_GET_VCPU_MMAP_SIZE, noArg(() => KVM_VCPU_MMAP_SIZE)],
  [I.KVM_GET_MSR_INDEX_LIST, getMsrIndexList],
  [I.KVM_GET_MSR_FEATURE_INDEX_LIST, getMsrFeatureIndexList],
  [I.KVM_GET_SUPPORTED_CPUID, getSupportedCpuid],
]);
