/** The vCPU register ioctls on the stored vCPU state (before any instruction runs). */
import { beforeEach, describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { E2BIG, EBUSY, EFAULT, EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct, type StructView } from '../uapi/layout.js';
import {
  kvm_dtable,
  kvm_fpu,
  kvm_guest_debug,
  kvm_interrupt,
  kvm_mp_state,
  kvm_regs,
  kvm_segment,
  kvm_sregs,
  kvm_vcpu_events,
} from '../uapi/structs.js';
import { VcpuState } from '../vcpu-state.js';
import { KvmHost } from './host.js';

let host: KvmHost;
let vm: number;
let vcpu: number;

beforeEach(() => {
  host = new KvmHost();
  vm = host.ioctl(host.open('/dev/kvm'), I.KVM_CREATE_VM, 0);
  vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
});

const getSregs = (): StructView<keyof typeof kvm_sregs.fields> => {
  const s = allocStruct(kvm_sregs);
  expect(host.ioctl(vcpu, I.KVM_GET_SREGS, s.bytes)).toBe(0);
  return s;
};

describe('reset state', () => {
  it('starts at the x86 reset vector: CS.base 0xffff0000, RIP 0xfff0, RFLAGS 2, CR0 0x60000010', () => {
    const r = allocStruct(kvm_regs);
    expect(host.ioctl(vcpu, I.KVM_GET_REGS, r.bytes)).toBe(0);
    expect([r.get('rip'), r.get('rflags'), r.get('rdx'), r.get('rax')]).toEqual([0xfff0, 2, 0x600, 0]);
    const s = getSregs();
    const cs = s.sub('cs', kvm_segment);
    expect([cs.get('selector'), cs.get('base'), cs.get('limit'), cs.get('type'), cs.get('s')]).toEqual([
      0xf000, 0xffff0000, 0xffff, 0xb, 1,
    ]);
    expect(s.sub('ds', kvm_segment).get('type')).toBe(3);
    expect(s.sub('tr', kvm_segment).get('type')).toBe(0xb);
    expect(s.sub('ldt', kvm_segment).get('type')).toBe(2);
    expect(s.sub('gdt', kvm_dtable).get('limit')).toBe(0xffff);
    expect([s.get('cr0'), s.get('cr4'), s.get('efer')]).toEqual([0x60000010, 0, 0]);
    expect(s.get('apic_base')).toBe(0xfee00900);
  });

  it('marks only vCPU 0 as the bootstrap processor and starts every vCPU runnable', () => {
    const ap = host.ioctl(vm, I.KVM_CREATE_VCPU, 1);
    const s = allocStruct(kvm_sregs);
    host.ioctl(ap, I.KVM_GET_SREGS, s.bytes);
    expect(s.get('apic_base')).toBe(0xfee00800);
    const mp = allocStruct(kvm_mp_state);
    expect(host.ioctl(ap, I.KVM_GET_MP_STATE, mp.bytes)).toBe(0);
    expect(mp.get('mp_state')).toBe(C.KVM_MP_STATE_RUNNABLE);
  });
});

describe('KVM_GET_REGS / KVM_SET_REGS', () => {
  it('round-trips all 18 registers with full 64-bit values', () => {
    const r = allocStruct(kvm_regs);
    Object.keys(kvm_regs.fields).forEach((k, i) => {
      r.set(k as keyof typeof kvm_regs.fields, 0xfedc_ba98_0000_0000n + BigInt(i));
    });
    r.set('rflags', 0x246);
    expect(host.ioctl(vcpu, I.KVM_SET_REGS, r.bytes)).toBe(0);
    const out = allocStruct(kvm_regs);
    expect(host.ioctl(vcpu, I.KVM_GET_REGS, out.bytes)).toBe(0);
    expect(Array.from(out.bytes)).toEqual(Array.from(r.bytes));
  });

  it('forces RFLAGS bit 1 on, as kvm_set_rflags does', () => {
    const r = allocStruct(kvm_regs);
    expect(host.ioctl(vcpu, I.KVM_SET_REGS, r.bytes)).toBe(0);
    expect(host.ioctl(vcpu, I.KVM_GET_REGS, r.bytes)).toBe(0);
    expect(r.get('rflags')).toBe(2);
  });

  it('fails with EFAULT for a short buffer and leaves the registers alone', () => {
    expect(host.ioctl(vcpu, I.KVM_SET_REGS, new Uint8Array(143).fill(0xff))).toBe(-EFAULT);
    expect(host.ioctl(vcpu, I.KVM_GET_REGS, new Uint8Array(100))).toBe(-EFAULT);
    const r = allocStruct(kvm_regs);
    host.ioctl(vcpu, I.KVM_GET_REGS, r.bytes);
    expect(r.get('rip')).toBe(0xfff0);
  });

  it('stores registers where the CPU integration reads them, shared across threads', () => {
    const r = allocStruct(kvm_regs);
    r.set('rip', 0x7c00);
    host.ioctl(vcpu, I.KVM_SET_REGS, r.bytes);
    const state = host.vcpuState(vcpu)!;
    const twin = VcpuState.fromShared(structuredClone(state.shared));
    expect(new DataView(twin.regs.buffer, twin.regs.byteOffset).getUint32(128, true)).toBe(0x7c00);
  });
});

describe('KVM_SET_SREGS', () => {
  it('round-trips a protected-mode register set', () => {
    const s = getSregs();
    s.set('cr0', 0x11);
    s.set('cr3', 0x1000);
    s.set('cr4', 0x10);
    const cs = s.sub('cs', kvm_segment);
    cs.set('selector', 8);
    cs.set('base', 0);
    cs.set('limit', 0xffffffff);
    cs.set('db', 1);
    cs.set('g', 1);
    expect(host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes)).toBe(0);
    expect(Array.from(getSregs().bytes)).toEqual(Array.from(s.bytes));
  });

  it('refuses impossible control-register combinations with EINVAL', () => {
    const cases: [string, (s: StructView<keyof typeof kvm_sregs.fields>) => void][] = [
      ['CR0.PG without CR0.PE', (s) => s.set('cr0', 0x80000000)],
      ['CR0.NW without CR0.CD', (s) => s.set('cr0', 0x20000000)],
      ['CR0 bits above 31', (s) => s.set('cr0', 2 ** 32)],
      ['reserved CR4 bit (OSXSAVE without XSAVE)', (s) => s.set('cr4', 1 << 18)],
      ['EFER.LMA outside long mode', (s) => s.set('efer', 0x400)],
      ['a 64-bit CS outside long mode', (s) => s.sub('cs', kvm_segment).set('l', 1)],
      [
        'long mode without CR4.PAE',
        (s) => {
          s.set('efer', 0x500);
          s.set('cr0', 0x80000001);
        },
      ],
      ['a reserved APIC-base bit', (s) => s.set('apic_base', 0xfee00001)],
      // MAXPHYADDR is 40: the default model has IA-32e mode and leaf 80000008H (EAX[7:0] = 40).
      ['an APIC base above MAXPHYADDR', (s) => s.set('apic_base', 2 ** 40 + 0x800)],
    ];
    for (const [what, mutate] of cases) {
      const s = getSregs();
      mutate(s);
      expect(host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes), what).toBe(-EINVAL);
    }
    expect(getSregs().get('cr0')).toBe(0x60000010);
  });

  it('ignores a CR8 with reserved bits and keeps only the lowest pending interrupt', () => {
    const s = getSregs();
    s.set('cr8', 0x1f);
    const bm = s.bytesOf('interrupt_bitmap');
    bm[4] = 0b0110_0000; // vectors 37 and 38
    bm[20] = 1;
    expect(host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes)).toBe(0);
    const out = getSregs();
    expect(out.get('cr8')).toBe(0);
    expect(
      Array.from(out.bytesOf('interrupt_bitmap'))
        .map((b, i) => [i, b])
        .filter(([, b]) => b),
    ).toEqual([[4, 0b0010_0000]]);
    s.set('cr8', 5);
    host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes);
    expect(getSregs().get('cr8')).toBe(5);
    const ev = allocStruct(kvm_vcpu_events);
    host.ioctl(vcpu, I.KVM_GET_VCPU_EVENTS, ev.bytes);
    expect([ev.get('interrupt.injected'), ev.get('interrupt.nr')]).toEqual([1, 37]);
  });

  it('shows the interrupt queued by KVM_INTERRUPT in the bitmap, and keeps it across an empty bitmap', () => {
    const irq = allocStruct(kvm_interrupt);
    irq.set('irq', 0x41);
    host.ioctl(vcpu, I.KVM_INTERRUPT, irq.bytes);
    const s = getSregs();
    expect(s.bytesOf('interrupt_bitmap')[8]).toBe(0b10);
    s.bytesOf('interrupt_bitmap').fill(0);
    expect(host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes)).toBe(0);
    expect(getSregs().bytesOf('interrupt_bitmap')[8]).toBe(0b10);
  });
});

describe('KVM_GET_MP_STATE / KVM_SET_MP_STATE', () => {
  it('accepts only RUNNABLE without an in-kernel LAPIC', () => {
    const mp = allocStruct(kvm_mp_state);
    mp.set('mp_state', C.KVM_MP_STATE_RUNNABLE);
    expect(host.ioctl(vcpu, I.KVM_SET_MP_STATE, mp.bytes)).toBe(0);
    for (const st of [
      C.KVM_MP_STATE_UNINITIALIZED,
      C.KVM_MP_STATE_HALTED,
      C.KVM_MP_STATE_INIT_RECEIVED,
      C.KVM_MP_STATE_SIPI_RECEIVED,
      C.KVM_MP_STATE_STOPPED,
      99,
    ]) {
      mp.set('mp_state', st);
      expect(host.ioctl(vcpu, I.KVM_SET_MP_STATE, mp.bytes)).toBe(-EINVAL);
    }
    expect(host.ioctl(vcpu, I.KVM_GET_MP_STATE, new Uint8Array(3))).toBe(-EFAULT);
  });
});

describe('KVM_GET_FPU / KVM_SET_FPU', () => {
  it('starts with FCW 0x37f and MXCSR 0x1f80 and round-trips the state, padding read back as 0', () => {
    const f = allocStruct(kvm_fpu);
    expect(host.ioctl(vcpu, I.KVM_GET_FPU, f.bytes)).toBe(0);
    expect([f.get('fcw'), f.get('mxcsr'), f.get('fsw'), f.get('ftwx')]).toEqual([0x37f, 0x1f80, 0, 0]);
    f.bytes.fill(0x5a);
    expect(host.ioctl(vcpu, I.KVM_SET_FPU, f.bytes)).toBe(0);
    const out = allocStruct(kvm_fpu);
    host.ioctl(vcpu, I.KVM_GET_FPU, out.bytes);
    expect([out.get('fcw'), out.get('pad1'), out.get('pad2')]).toEqual([0x5a5a, 0, 0]);
    expect(out.bytesOf('xmm').every((b) => b === 0x5a)).toBe(true);
    expect(host.ioctl(vcpu, I.KVM_SET_FPU, new Uint8Array(415))).toBe(-EFAULT);
  });
});

describe('KVM_SET_CPUID2 / KVM_GET_CPUID2', () => {
  const cpuid = (nent: number, room = nent) => {
    const b = new Uint8Array(8 + 40 * room);
    new DataView(b.buffer).setUint32(0, nent, true);
    return b;
  };

  it('stores the guest CPUID and returns it, with E2BIG when the caller has too little room', () => {
    const set = cpuid(2);
    const v = new DataView(set.buffer);
    v.setUint32(8, 0, true);
    v.setUint32(8 + 12, 2, true);
    v.setUint32(48, 1, true);
    v.setUint32(48 + 24, 0x8000, true);
    expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, set)).toBe(0);
    const small = cpuid(1, 4);
    expect(host.ioctl(vcpu, I.KVM_GET_CPUID2, small)).toBe(-E2BIG);
    expect(new DataView(small.buffer).getUint32(0, true)).toBe(1);
    const out = cpuid(4);
    expect(host.ioctl(vcpu, I.KVM_GET_CPUID2, out)).toBe(0);
    expect(new DataView(out.buffer).getUint32(0, true)).toBe(2);
    expect(Array.from(out.subarray(8, 88))).toEqual(Array.from(set.subarray(8, 88)));
  });

  it('refuses more than 256 entries (E2BIG), missing entries (EFAULT), a bad address width (EINVAL)', () => {
    expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, cpuid(257))).toBe(-E2BIG);
    expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, cpuid(3, 2))).toBe(-EFAULT);
    const bad = cpuid(1);
    new DataView(bad.buffer).setUint32(8, 0x80000008, true);
    new DataView(bad.buffer).setUint32(8 + 12, 0x2830, true); // 40 virtual-address bits
    expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, bad)).toBe(-EINVAL);
    new DataView(bad.buffer).setUint32(8 + 12, 0x3030, true); // 48
    expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, bad)).toBe(0);
    expect(host.ioctl(vcpu, I.KVM_SET_CPUID2, cpuid(0))).toBe(0);
    expect(host.ioctl(vcpu, I.KVM_GET_CPUID2, cpuid(0))).toBe(0);
  });
});

describe('KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS / KVM_INTERRUPT / KVM_NMI', () => {
  const getEvents = () => {
    const e = allocStruct(kvm_vcpu_events);
    expect(host.ioctl(vcpu, I.KVM_GET_VCPU_EVENTS, e.bytes)).toBe(0);
    return e;
  };

  it('reports no events after reset, with the NMI_PENDING, SHADOW and SMM flags', () => {
    const e = getEvents();
    expect(e.get('flags')).toBe(
      C.KVM_VCPUEVENT_VALID_NMI_PENDING | C.KVM_VCPUEVENT_VALID_SHADOW | C.KVM_VCPUEVENT_VALID_SMM,
    );
    expect(e.bytes.subarray(0, 20).every((b) => b === 0)).toBe(true);
  });

  it('queues an external interrupt with KVM_INTERRUPT, vectors below 256 only', () => {
    const irq = allocStruct(kvm_interrupt);
    irq.set('irq', 0x20);
    expect(host.ioctl(vcpu, I.KVM_INTERRUPT, irq.bytes)).toBe(0);
    expect([getEvents().get('interrupt.injected'), getEvents().get('interrupt.nr')]).toEqual([1, 0x20]);
    irq.set('irq', 256);
    expect(host.ioctl(vcpu, I.KVM_INTERRUPT, irq.bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_INTERRUPT, new Uint8Array(3))).toBe(-EFAULT);
  });

  it('counts NMIs up to two pending, one while NMIs are masked', () => {
    for (let i = 0; i < 5; i++) expect(host.ioctl(vcpu, I.KVM_NMI)).toBe(0);
    expect(getEvents().get('nmi.pending')).toBe(2);
    const e = getEvents();
    e.set('nmi.masked', 1);
    e.set('nmi.pending', 2);
    expect(host.ioctl(vcpu, I.KVM_SET_VCPU_EVENTS, e.bytes)).toBe(0);
    expect([getEvents().get('nmi.pending'), getEvents().get('nmi.masked')]).toEqual([1, 1]);
  });

  it('round-trips an injected exception, a shadow, and hides a soft interrupt', () => {
    const e = getEvents();
    e.set('exception.injected', 1);
    e.set('exception.nr', 14);
    e.set('exception.has_error_code', 1);
    e.set('exception.error_code', 2);
    e.set('interrupt.injected', 1);
    e.set('interrupt.nr', 0x80);
    e.set('interrupt.soft', 1);
    e.set('interrupt.shadow', 0xff);
    expect(host.ioctl(vcpu, I.KVM_SET_VCPU_EVENTS, e.bytes)).toBe(0);
    const out = getEvents();
    expect([out.get('exception.injected'), out.get('exception.nr'), out.get('exception.error_code')]).toEqual(
      [1, 14, 2],
    );
    expect([out.get('interrupt.injected'), out.get('interrupt.shadow')]).toEqual([0, 3]);
  });

  it('refuses unknown flags, payloads, triple faults, SMM and impossible exception vectors (EINVAL)', () => {
    const cases: [string, (e: StructView<keyof typeof kvm_vcpu_events.fields>) => void][] = [
      ['unknown flag', (e) => e.set('flags', 1 << 6)],
      ['payload', (e) => e.set('flags', C.KVM_VCPUEVENT_VALID_PAYLOAD)],
      [
        'exception vector 32',
        (e) => {
          e.set('exception.injected', 1);
          e.set('exception.nr', 32);
        },
      ],
      [
        'NMI as exception',
        (e) => {
          e.set('exception.injected', 1);
          e.set('exception.nr', 2);
        },
      ],
      [
        'SMM',
        (e) => {
          e.set('flags', C.KVM_VCPUEVENT_VALID_SMM);
          e.set('smi.smm', 1);
        },
      ],
      ['triple fault', (e) => e.set('flags', C.KVM_VCPUEVENT_VALID_TRIPLE_FAULT)],
    ];
    for (const [what, mutate] of cases) {
      const e = allocStruct(kvm_vcpu_events);
      mutate(e);
      expect(host.ioctl(vcpu, I.KVM_SET_VCPU_EVENTS, e.bytes), what).toBe(-EINVAL);
    }
  });
});

describe('KVM_SET_GUEST_DEBUG', () => {
  const debug = (control: number, dr7 = 0) => {
    const g = allocStruct(kvm_guest_debug);
    g.set('control', control);
    new DataView(g.bytes.buffer).setBigUint64(8 + 7 * 8, BigInt(dr7), true);
    new DataView(g.bytes.buffer).setBigUint64(8, 0x1000n, true);
    return host.ioctl(vcpu, I.KVM_SET_GUEST_DEBUG, g.bytes);
  };
  const stored = () =>
    new DataView(host.vcpuState(vcpu)!.guestDebug.buffer, host.vcpuState(vcpu)!.guestDebug.byteOffset);

  it('stores the control word and, with USE_HW_BP, the debug registers', () => {
    expect(debug(C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP, 0x402)).toBe(0);
    expect(stored().getUint32(0, true)).toBe(C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP);
    expect(stored().getBigUint64(8, true)).toBe(0x1000n);
    expect(stored().getBigUint64(64, true)).toBe(0x402n);
    expect(debug(C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP)).toBe(0);
    expect(stored().getBigUint64(8, true)).toBe(0n);
    expect(debug(C.KVM_GUESTDBG_SINGLESTEP)).toBe(0);
    expect(stored().getUint32(0, true)).toBe(0);
  });

  it('refuses unknown control bits (EINVAL)', () => {
    expect(debug(1 << 3)).toBe(-EINVAL);
    expect(debug(1 << 21)).toBe(-EINVAL);
  });

  it('queues #DB or #BP for INJECT_DB / INJECT_BP, and is EBUSY while an exception is queued', () => {
    expect(debug(C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_INJECT_BP)).toBe(0);
    const e = allocStruct(kvm_vcpu_events);
    host.ioctl(vcpu, I.KVM_GET_VCPU_EVENTS, e.bytes);
    expect([e.get('exception.injected'), e.get('exception.nr')]).toEqual([1, 3]);
    expect(debug(C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_INJECT_DB)).toBe(-EBUSY);
  });
});
