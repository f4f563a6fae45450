/** The irqchip VM and vCPU ioctls without guest code: errnos, routing rules, state round trips. */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { TestClock } from '../run/guest.test-support.js';
import * as C from '../uapi/constants.js';
import { EEXIST, EFAULT, EINVAL, ENXIO } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import {
  kvm_irq_level,
  kvm_irq_routing,
  kvm_irq_routing_entry,
  kvm_irqchip,
  kvm_irqfd,
  kvm_lapic_state,
  kvm_mp_state,
  kvm_msi,
  kvm_sregs,
} from '../uapi/structs.js';
import { KvmHost } from './host.js';

let host: KvmHost;
let kvm: number;
let vm: number;

beforeEach(() => {
  host = new KvmHost({ clock: new TestClock() });
  kvm = host.open('/dev/kvm');
  vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
});

const irqLine = (irq: number, level: number, status = false): { r: number; status: number } => {
  const l = allocStruct(kvm_irq_level);
  l.set('irq', irq);
  l.set('level', level);
  const r = host.ioctl(vm, status ? I.KVM_IRQ_LINE_STATUS : I.KVM_IRQ_LINE, l.bytes);
  return { r, status: new DataView(l.bytes.buffer).getInt32(0, true) };
};

type Entry = { gsi: number; type: number; flags?: number; u: [number, number, number?] };
function routing(entries: readonly Entry[], flags = 0): Uint8Array {
  const b = new Uint8Array(kvm_irq_routing.size + entries.length * kvm_irq_routing_entry.size);
  const v = new DataView(b.buffer);
  v.setUint32(0, entries.length, true);
  v.setUint32(4, flags, true);
  entries.forEach((e, i) => {
    const o = 8 + i * kvm_irq_routing_entry.size;
    v.setUint32(o, e.gsi, true);
    v.setUint32(o + 4, e.type, true);
    v.setUint32(o + 8, e.flags ?? 0, true);
    v.setUint32(o + 16, e.u[0], true);
    v.setUint32(o + 20, e.u[1], true);
    v.setUint32(o + 24, e.u[2] ?? 0, true);
  });
  return b;
}

const getChip = (id: number): Uint8Array => {
  const c = allocStruct(kvm_irqchip);
  c.set('chip_id', id);
  expect(host.ioctl(vm, I.KVM_GET_IRQCHIP, c.bytes)).toBe(0);
  return c.bytes;
};

describe('KVM_CREATE_IRQCHIP', () => {
  it('creates the irqchip once (-EEXIST), and only before the first vCPU (-EINVAL)', () => {
    expect(host.ioctl(vm, I.KVM_CREATE_IRQCHIP, 0)).toBe(0);
    expect(host.ioctl(vm, I.KVM_CREATE_IRQCHIP, 0)).toBe(-EEXIST);
    const vm2 = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    host.ioctl(vm2, I.KVM_CREATE_VCPU, 0);
    expect(host.ioctl(vm2, I.KVM_CREATE_IRQCHIP, 0)).toBe(-EINVAL);
  });

  it('refuses the irqchip ioctls without one as the kernel does', () => {
    expect(irqLine(0, 1).r).toBe(-ENXIO);
    expect(irqLine(0, 1, true).r).toBe(-ENXIO);
    expect(host.ioctl(vm, I.KVM_GET_IRQCHIP, allocStruct(kvm_irqchip).bytes)).toBe(-ENXIO);
    expect(host.ioctl(vm, I.KVM_SET_IRQCHIP, allocStruct(kvm_irqchip).bytes)).toBe(-ENXIO);
    expect(host.ioctl(vm, I.KVM_SET_GSI_ROUTING, routing([]))).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_SIGNAL_MSI, allocStruct(kvm_msi).bytes)).toBe(-EINVAL);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(host.ioctl(vcpu, I.KVM_GET_LAPIC, allocStruct(kvm_lapic_state).bytes)).toBe(-EINVAL);
    expect(host.ioctl(vcpu, I.KVM_SET_LAPIC, allocStruct(kvm_lapic_state).bytes)).toBe(-EINVAL);
    const m = allocStruct(kvm_mp_state);
    m.set('mp_state', C.KVM_MP_STATE_HALTED);
    expect(host.ioctl(vcpu, I.KVM_SET_MP_STATE, m.bytes)).toBe(-EINVAL);
  });

  it('gives -EFAULT for short or missing buffers', () => {
    host.ioctl(vm, I.KVM_CREATE_IRQCHIP, 0);
    expect(host.ioctl(vm, I.KVM_IRQ_LINE, new Uint8Array(7))).toBe(-EFAULT);
    expect(host.ioctl(vm, I.KVM_GET_IRQCHIP, new Uint8Array(519))).toBe(-EFAULT);
    expect(host.ioctl(vm, I.KVM_SET_IRQCHIP, 0)).toBe(-EFAULT);
    expect(host.ioctl(vm, I.KVM_SIGNAL_MSI, new Uint8Array(16))).toBe(-EFAULT);
    // nr says 2 entries, the buffer holds 1.
    const r = routing([{ gsi: 0, type: C.KVM_IRQ_ROUTING_IRQCHIP, u: [2, 0] }]);
    new DataView(r.buffer).setUint32(0, 2, true);
    expect(host.ioctl(vm, I.KVM_SET_GSI_ROUTING, r)).toBe(-EFAULT);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(host.ioctl(vcpu, I.KVM_GET_LAPIC, new Uint8Array(1023))).toBe(-EFAULT);
  });
});

describe('KVM_IRQ_LINE_STATUS and the default routing', () => {
  beforeEach(() => {
    expect(host.ioctl(vm, I.KVM_CREATE_IRQCHIP, 0)).toBe(0);
    host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
  });

  it('routes GSI 0-15 to the 8259 pair and the I/O APIC, 16-23 to the I/O APIC only', () => {
    const chip = host.vmState(vm)!.chip!;
    expect(chip.routing.filter((r) => r.gsi < 16)).toHaveLength(32);
    expect(chip.routing.filter((r) => r.gsi >= 16).every((r) => r.type === 'irqchip' && r.chip === 2)).toBe(
      true,
    );
    expect(chip.routing).toHaveLength(40);
    irqLine(10, 1);
    expect(getChip(C.KVM_IRQCHIP_PIC_SLAVE)[8 + 1]).toBe(1 << 2); // slave irr bit 2
    expect(new DataView(getChip(C.KVM_IRQCHIP_IOAPIC).buffer).getUint32(8 + 16, true)).toBe(1 << 10);
    irqLine(20, 1);
    expect(new DataView(getChip(C.KVM_IRQCHIP_IOAPIC).buffer).getUint32(8 + 16, true)).toBe(
      (1 << 10) | (1 << 20),
    );
  });

  it('reports -1 for a masked line or an unrouted GSI, 0 for a coalesced edge, > 0 when delivered', () => {
    // After reset the 8259s have IMR 0 and the I/O APIC entries are masked.
    expect(irqLine(3, 1, true).status).toBe(1);
    irqLine(3, 0);
    expect(irqLine(3, 1, true).status).toBe(0); // IRR bit still set: coalesced
    expect(irqLine(20, 1, true).status).toBe(-1); // I/O APIC pin 20 masked
    expect(irqLine(100, 1, true).status).toBe(-1); // no route
  });
});

describe('KVM_SET_GSI_ROUTING', () => {
  beforeEach(() => {
    host.ioctl(vm, I.KVM_CREATE_IRQCHIP, 0);
  });
  const IRQCHIP = C.KVM_IRQ_ROUTING_IRQCHIP;
  const MSI = C.KVM_IRQ_ROUTING_MSI;

  it('rejects bad entries with -EINVAL, as kvm_set_routing_entry', () => {
    const bad: Entry[][] = [
      [{ gsi: 0, type: IRQCHIP, u: [3, 0] }], // no chip 3
      [{ gsi: 0, type: IRQCHIP, u: [2, 24] }], // I/O APIC pins 0-23
      [{ gsi: 0, type: IRQCHIP, u: [1, 8] }], // slave pins 0-7 (8-15 of the pair)
      [{ gsi: 4096, type: IRQCHIP, u: [2, 0] }], // GSI >= KVM_MAX_IRQ_ROUTES
      [{ gsi: 0, type: 9, u: [0, 0] }], // unknown type
      [{ gsi: 0, type: IRQCHIP, flags: 1, u: [2, 0] }],
      [
        { gsi: 5, type: IRQCHIP, u: [2, 5] },
        { gsi: 5, type: IRQCHIP, u: [2, 6] }, // the same chip twice on one GSI
      ],
      [
        { gsi: 5, type: MSI, u: [0xfee00000, 0, 0x30] },
        { gsi: 5, type: IRQCHIP, u: [2, 6] }, // MSI shares its GSI with nothing
      ],
    ];
    for (const entries of bad) expect(host.ioctl(vm, I.KVM_SET_GSI_ROUTING, routing(entries))).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_SET_GSI_ROUTING, routing([], 1))).toBe(-EINVAL);
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, 4097, true);
    expect(host.ioctl(vm, I.KVM_SET_GSI_ROUTING, huge)).toBe(-EINVAL);
    // The table is unchanged by a failed call.
    expect(host.vmState(vm)!.chip!.routing).toHaveLength(40);
  });

  it('installs irqchip and MSI routes; an MSI GSI reaches the LAPIC by KVM_IRQ_LINE and by irqfd', () => {
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(
      host.ioctl(
        vm,
        I.KVM_SET_GSI_ROUTING,
        routing([
          { gsi: 7, type: IRQCHIP, u: [0, 7] },
          { gsi: 7, type: IRQCHIP, u: [2, 7] },
          { gsi: 40, type: MSI, u: [0xfee00000, 0, 0x50] },
          { gsi: 41, type: MSI, u: [0xfee00000, 0, 0x51] },
        ]),
      ),
    ).toBe(0);
    const chip = host.vmState(vm)!.chip!;
    expect(chip.routing).toHaveLength(4);
    const lapic = chip.lapic(0)!;
    lapic.write(0xf0, 4, 0x1ff); // software-enable
    expect(irqLine(40, 1, true).status).toBe(1);
    expect(irqLine(3, 1, true).status).toBe(-1); // GSI 3 no longer routed
    const efd = host.eventfd(0);
    const q = allocStruct(kvm_irqfd);
    q.set('fd', efd);
    q.set('gsi', 41);
    expect(host.ioctl(vm, I.KVM_IRQFD, q.bytes)).toBe(0);
    host.write(efd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    const page = allocStruct(kvm_lapic_state);
    expect(host.ioctl(vcpu, I.KVM_GET_LAPIC, page.bytes)).toBe(0);
    const irr2 = new DataView(page.bytes.buffer).getUint32(0x200 + 2 * 0x10, true);
    expect(irr2).toBe((1 << 0x10) | (1 << 0x11)); // vectors 0x50 and 0x51
  });

  it('resamples a level-triggered irqfd when the guest EOIs its vector', () => {
    host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const chip = host.vmState(vm)!.chip!;
    const lapic = chip.lapic(0)!;
    lapic.write(0xf0, 4, 0x1ff);
    // I/O APIC pin 9: level-triggered, vector 0x60, destination APIC 0.
    chip.ioapic.write(0, 4, 0x10 + 18);
    chip.ioapic.write(0x10, 4, 0x60 | (1 << 15));
    const efd = host.eventfd(0);
    const rfd = host.eventfd(0);
    const q = allocStruct(kvm_irqfd);
    q.set('fd', efd);
    q.set('gsi', 9);
    q.set('flags', C.KVM_IRQFD_FLAG_RESAMPLE);
    q.set('resamplefd', rfd);
    expect(host.ioctl(vm, I.KVM_IRQFD, q.bytes)).toBe(0);
    host.write(efd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    expect(lapic.acknowledge()).toBe(0x60);
    // Still asserted (level), remote IRR set, resamplefd quiet.
    expect(chip.ioapic.entry(9)[0] & (1 << 14)).not.toBe(0);
    expect(host.eventfdState(rfd)!.count).toBe(0);
    lapic.write(0xb0, 4, 0); // EOI
    expect(host.eventfdState(rfd)!.count).toBe(1);
    expect(chip.ioapic.entry(9)[0] & (1 << 14)).toBe(0);
    expect(chip.ioapic.getState().lines & (1 << 9)).toBe(0); // de-asserted by the resampler
  });
});

describe('KVM_GET/SET_IRQCHIP and KVM_GET/SET_LAPIC', () => {
  beforeEach(() => {
    host.ioctl(vm, I.KVM_CREATE_IRQCHIP, 0);
  });

  it('rejects an unknown chip id with -EINVAL', () => {
    const c = allocStruct(kvm_irqchip);
    c.set('chip_id', 3);
    expect(host.ioctl(vm, I.KVM_GET_IRQCHIP, c.bytes)).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_SET_IRQCHIP, c.bytes)).toBe(-EINVAL);
  });

  it('shows the reset state in kvm_pic_state / kvm_ioapic_state bytes', () => {
    const master = getChip(C.KVM_IRQCHIP_PIC_MASTER).subarray(8, 24);
    expect(master[15]).toBe(0xf8); // elcr_mask
    expect(getChip(C.KVM_IRQCHIP_PIC_SLAVE)[8 + 15]).toBe(0xde);
    const io = new DataView(getChip(C.KVM_IRQCHIP_IOAPIC).buffer, 8);
    expect(io.getUint32(0, true)).toBe(0xfec00000);
    for (let pin = 0; pin < 24; pin++) expect(io.getUint32(24 + pin * 8, true)).toBe(1 << 16); // masked
  });

  it('round-trips guest-programmed 8259 and I/O APIC state through GET -> SET -> GET', () => {
    const chip = host.vmState(vm)!.chip!;
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom(0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1), fc.integer({ min: 0, max: 255 })),
        ),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0x40 }), fc.integer({ min: 0, max: 0xffffffff }))),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 23 }), fc.boolean())),
        (pio, mmio, lines) => {
          for (const [port, v] of pio) chip.pioWrite(port, 1, v);
          for (const [reg, v] of mmio) {
            chip.ioapic.write(0, 4, reg);
            chip.ioapic.write(0x10, 4, v);
          }
          for (const [pin, level] of lines) chip.setIrq(pin + 0, level);
          for (const id of [0, 1, 2]) {
            const a = getChip(id);
            expect(host.ioctl(vm, I.KVM_SET_IRQCHIP, a)).toBe(0);
            expect(getChip(id)).toEqual(a);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('takes arbitrary kvm_pic_state bytes and reads back a fixed point', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.uint8Array({ minLength: 16, maxLength: 16 }), (id, bytes) => {
        const c = allocStruct(kvm_irqchip);
        c.set('chip_id', id);
        c.bytes.set(bytes, 8);
        expect(host.ioctl(vm, I.KVM_SET_IRQCHIP, c.bytes)).toBe(0);
        const once = getChip(id);
        expect(once[8 + 1]).toBe(bytes[1]); // irr
        expect(once[8 + 2]).toBe(bytes[2]); // imr
        expect(once[8 + 3]).toBe(bytes[3]); // isr
        expect(host.ioctl(vm, I.KVM_SET_IRQCHIP, once)).toBe(0);
        expect(getChip(id)).toEqual(once);
      }),
      { numRuns: 150 },
    );
  });

  it('round-trips the LAPIC register page after arbitrary guest register writes', () => {
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const lapic = host.vmState(vm)!.chip!.lapic(0)!;
    const REGS = [
      0x80, 0xb0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380,
      0x3e0,
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...REGS), fc.integer({ min: 0, max: 0xffffffff }))),
        (writes) => {
          for (const [reg, v] of writes) lapic.write(reg, 4, v);
          const a = allocStruct(kvm_lapic_state);
          expect(host.ioctl(vcpu, I.KVM_GET_LAPIC, a.bytes)).toBe(0);
          expect(host.ioctl(vcpu, I.KVM_SET_LAPIC, a.bytes)).toBe(0);
          const b = allocStruct(kvm_lapic_state);
          expect(host.ioctl(vcpu, I.KVM_GET_LAPIC, b.bytes)).toBe(0);
          expect(b.bytes).toEqual(a.bytes);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reports and sets IA32_APIC_BASE through kvm_sregs, refusing impossible transitions', () => {
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const s = allocStruct(kvm_sregs);
    host.ioctl(vcpu, I.KVM_GET_SREGS, s.bytes);
    expect(s.get('apic_base')).toBe(0xfee00900);
    s.set('apic_base', 0xfed00900);
    expect(host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes)).toBe(0);
    expect(host.vmState(vm)!.chip!.lapic(0)!.mmioBase).toBe(0xfed00000);
    // EXTD without EN.
    s.set('apic_base', 0xfee00500);
    expect(host.ioctl(vcpu, I.KVM_SET_SREGS, s.bytes)).toBe(-EINVAL);
    const m = allocStruct(kvm_mp_state);
    m.set('mp_state', C.KVM_MP_STATE_HALTED);
    expect(host.ioctl(vcpu, I.KVM_SET_MP_STATE, m.bytes)).toBe(0);
    expect(host.ioctl(vcpu, I.KVM_GET_MP_STATE, m.bytes)).toBe(0);
    expect(m.get('mp_state')).toBe(C.KVM_MP_STATE_HALTED);
    m.set('mp_state', C.KVM_MP_STATE_SIPI_RECEIVED);
    expect(host.ioctl(vcpu, I.KVM_SET_MP_STATE, m.bytes)).toBe(-EINVAL);
    m.set('mp_state', C.KVM_MP_STATE_INIT_RECEIVED);
    expect(host.ioctl(vcpu, I.KVM_SET_MP_STATE, m.bytes)).toBe(0);
    // An AP starts UNINITIALIZED with an in-kernel LAPIC.
    const ap = host.ioctl(vm, I.KVM_CREATE_VCPU, 1);
    expect(host.ioctl(ap, I.KVM_GET_MP_STATE, m.bytes)).toBe(0);
    expect(m.get('mp_state')).toBe(C.KVM_MP_STATE_UNINITIALIZED);
  });
});
