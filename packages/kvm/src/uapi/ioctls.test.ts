import { describe, expect, it } from 'vitest';
import { _IO, _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE, _IOR, _IOW, _IOWR, KVMIO } from './ioctl.js';
import * as I from './ioctls.js';

/** The request numbers as Linux x86_64 prints them (from the uapi headers, kvm-bindings, strace). */
const LINUX_X86_64: Readonly<Record<string, number>> = {
  KVM_GET_API_VERSION: 0xae00,
  KVM_CREATE_VM: 0xae01,
  KVM_GET_MSR_INDEX_LIST: 0xc004ae02,
  KVM_CHECK_EXTENSION: 0xae03,
  KVM_GET_VCPU_MMAP_SIZE: 0xae04,
  KVM_GET_SUPPORTED_CPUID: 0xc008ae05,
  KVM_GET_EMULATED_CPUID: 0xc008ae09,
  KVM_GET_MSR_FEATURE_INDEX_LIST: 0xc004ae0a,
  KVM_CREATE_VCPU: 0xae41,
  KVM_GET_DIRTY_LOG: 0x4010ae42,
  KVM_SET_NR_MMU_PAGES: 0xae44,
  KVM_GET_NR_MMU_PAGES: 0xae45,
  KVM_SET_USER_MEMORY_REGION: 0x4020ae46,
  KVM_SET_TSS_ADDR: 0xae47,
  KVM_SET_IDENTITY_MAP_ADDR: 0x4008ae48,
  KVM_SET_USER_MEMORY_REGION2: 0x40a0ae49,
  KVM_CREATE_IRQCHIP: 0xae60,
  KVM_IRQ_LINE: 0x4008ae61,
  KVM_GET_IRQCHIP: 0xc208ae62,
  KVM_SET_IRQCHIP: 0x8208ae63,
  KVM_CREATE_PIT: 0xae64,
  KVM_GET_PIT: 0xc048ae65,
  KVM_SET_PIT: 0x8048ae66,
  KVM_IRQ_LINE_STATUS: 0xc008ae67,
  KVM_REGISTER_COALESCED_MMIO: 0x4010ae67,
  KVM_UNREGISTER_COALESCED_MMIO: 0x4010ae68,
  KVM_SET_GSI_ROUTING: 0x4008ae6a,
  KVM_REINJECT_CONTROL: 0xae71,
  KVM_IRQFD: 0x4020ae76,
  KVM_CREATE_PIT2: 0x4040ae77,
  KVM_SET_BOOT_CPU_ID: 0xae78,
  KVM_IOEVENTFD: 0x4040ae79,
  KVM_SET_CLOCK: 0x4030ae7b,
  KVM_GET_CLOCK: 0x8030ae7c,
  KVM_GET_PIT2: 0x8070ae9f,
  KVM_SET_PIT2: 0x4070aea0,
  KVM_SET_TSC_KHZ: 0xaea2,
  KVM_GET_TSC_KHZ: 0xaea3,
  KVM_SIGNAL_MSI: 0x4020aea5,
  KVM_CLEAR_DIRTY_LOG: 0xc018aec0,
  KVM_CREATE_DEVICE: 0xc00caee0,
  KVM_SET_DEVICE_ATTR: 0x4018aee1,
  KVM_GET_DEVICE_ATTR: 0x4018aee2,
  KVM_HAS_DEVICE_ATTR: 0x4018aee3,
  KVM_RUN: 0xae80,
  KVM_GET_REGS: 0x8090ae81,
  KVM_SET_REGS: 0x4090ae82,
  KVM_GET_SREGS: 0x8138ae83,
  KVM_SET_SREGS: 0x4138ae84,
  KVM_TRANSLATE: 0xc018ae85,
  KVM_INTERRUPT: 0x4004ae86,
  KVM_GET_MSRS: 0xc008ae88,
  KVM_SET_MSRS: 0x4008ae89,
  KVM_SET_CPUID: 0x4008ae8a,
  KVM_SET_SIGNAL_MASK: 0x4004ae8b,
  KVM_GET_FPU: 0x81a0ae8c,
  KVM_SET_FPU: 0x41a0ae8d,
  KVM_GET_LAPIC: 0x8400ae8e,
  KVM_SET_LAPIC: 0x4400ae8f,
  KVM_SET_CPUID2: 0x4008ae90,
  KVM_GET_CPUID2: 0xc008ae91,
  KVM_TPR_ACCESS_REPORTING: 0xc028ae92,
  KVM_SET_VAPIC_ADDR: 0x4008ae93,
  KVM_GET_MP_STATE: 0x8004ae98,
  KVM_SET_MP_STATE: 0x4004ae99,
  KVM_NMI: 0xae9a,
  KVM_SET_GUEST_DEBUG: 0x4048ae9b,
  KVM_X86_SETUP_MCE: 0x4008ae9c,
  KVM_X86_GET_MCE_CAP_SUPPORTED: 0x8008ae9d,
  KVM_X86_SET_MCE: 0x4040ae9e,
  KVM_GET_VCPU_EVENTS: 0x8040ae9f,
  KVM_SET_VCPU_EVENTS: 0x4040aea0,
  KVM_GET_DEBUGREGS: 0x8080aea1,
  KVM_SET_DEBUGREGS: 0x4080aea2,
  KVM_ENABLE_CAP: 0x4068aea3,
  KVM_GET_XSAVE: 0x9000aea4,
  KVM_SET_XSAVE: 0x5000aea5,
  KVM_GET_XCRS: 0x8188aea6,
  KVM_SET_XCRS: 0x4188aea7,
  KVM_GET_ONE_REG: 0x4010aeab,
  KVM_SET_ONE_REG: 0x4010aeac,
  KVM_KVMCLOCK_CTRL: 0xaead,
  KVM_SMI: 0xaeb7,
  KVM_GET_NESTED_STATE: 0xc080aebe,
  KVM_SET_NESTED_STATE: 0x4080aebf,
  KVM_GET_SREGS2: 0x8140aecc,
  KVM_SET_SREGS2: 0x4140aecd,
  KVM_GET_XSAVE2: 0x9000aecf,
  KVM_X86_SET_MSR_FILTER: 0x4188aec6,
};

describe('ioctl request numbers', () => {
  it.each(Object.entries(LINUX_X86_64))('%s equals the Linux x86_64 value', (name, value) => {
    expect((I as Record<string, unknown>)[name]).toBe(value);
  });

  it('every exported request is pinned to a literal above', () => {
    const exported = Object.keys(I).filter((k) => k.startsWith('KVM_'));
    const untested = exported.filter((k) => !(k in LINUX_X86_64));
    expect(untested).toEqual([
      'KVM_S390_ENABLE_SIE',
      'KVM_SET_PMU_EVENT_FILTER',
      'KVM_RESET_DIRTY_RINGS',
      'KVM_GET_STATS_FD',
      'KVM_GET_REG_LIST',
      'KVM_GET_SUPPORTED_HV_CPUID',
    ]);
  });

  it('the encoders put direction, size, type and number where asm-generic/ioctl.h does', () => {
    expect(_IO(KVMIO, 0x80)).toBe(0xae80);
    expect(_IOR(KVMIO, 0x81, 144)).toBe(0x8090ae81);
    expect(_IOW(KVMIO, 0x46, 32)).toBe(0x4020ae46);
    expect(_IOWR(KVMIO, 0x05, 8)).toBe(0xc008ae05);
    const r = I.KVM_GET_SREGS;
    expect([_IOC_DIR(r), _IOC_SIZE(r), _IOC_TYPE(r), _IOC_NR(r)]).toEqual([2, 312, 0xae, 0x83]);
  });

  it('requests are unsigned 32-bit numbers, never negative', () => {
    for (const v of Object.values(I)) {
      if (typeof v === 'number') expect(v >>> 0).toBe(v);
    }
  });

  it('an argument size that does not fit 14 bits is a programmer error', () => {
    expect(() => _IOW(KVMIO, 1, 1 << 14)).toThrow(RangeError);
  });
});
