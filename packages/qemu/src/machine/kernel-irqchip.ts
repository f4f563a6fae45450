/**
 * `-machine kernel_irqchip=on`: what the VMM keeps when the 8259s, the I/O APIC, the LAPIC and the PIT
 * live in the KVM facade (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2), as QEMU's hw/i386/kvm/ does it. ISA
 * lines go out with KVM_IRQ_LINE; the ELCR that firmware would program, `info pic`, and port 0x61's
 * view of PIT counter 2 go through KVM_GET/SET_IRQCHIP and KVM_GET/SET_PIT2.
 */
import type { SpeakerTimer } from '@typevisor/devices';
import {
  allocStruct,
  KVM_GET_IRQCHIP,
  KVM_GET_PIT2,
  KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE,
  KVM_SET_IRQCHIP,
  KVM_SET_PIT2,
  type Kvm,
  KvmError,
  kvm_irqchip,
  kvm_pic_state,
  kvm_pit_channel_state,
  kvm_pit_state2,
  StructView,
  type Vm,
} from '@typevisor/kvm';
import type { AccessSize, IrqLine, PioDevice } from '@typevisor/memory';
import type { PicView } from '../monitor/info-pic.js';

const PIT_HZ = 1_193_182;
/** ICW4 bit 4 (special fully nested mode), as `info pic` reads it back from kvm_pic_state. */
const ICW4_SFNM = 0x10;

function check(rc: number, what: string): void {
  if (rc < 0) throw new KvmError(-rc, what);
}

/**
 * GSI `irq` of the in-kernel irqchip driven with KVM_IRQ_LINE (ISA IRQ n is GSI n: its 8259 pin and
 * I/O APIC pin). Only changes of level are passed on: a device that sets its line high again while it
 * is high makes no edge on the 8259 and no new message from the I/O APIC, so no ioctl is needed.
 */
export function kernelIrqLine(vm: Vm, irq: number): IrqLine {
  let current = false;
  return {
    set(level: boolean): void {
      if (level === current) return;
      current = level;
      vm.setIrqLine(irq, level);
    },
  };
}

/** One in-kernel 8259 (chip 0 master, 1 slave) read with KVM_GET_IRQCHIP. */
function getPic(kvm: Kvm, vm: Vm, chip: number) {
  const v = allocStruct(kvm_irqchip);
  v.set('chip_id', chip);
  check(kvm.host.ioctl(vm.fd, KVM_GET_IRQCHIP, v.bytes), 'KVM_GET_IRQCHIP');
  return v;
}

function picView(kvm: Kvm, vm: Vm, chip: number): PicView {
  const s = getPic(kvm, vm, chip).sub('chip', kvm_pic_state);
  return {
    irr: s.get('irr'),
    imr: s.get('imr'),
    isr: s.get('isr'),
    priorityBase: s.get('priority_add'),
    vectorBase: s.get('irq_base'),
    readIsr: s.get('read_reg_select') !== 0,
    elcr: s.get('elcr'),
    icw4: s.get('special_fully_nested_mode') !== 0 ? ICW4_SFNM : 0,
  };
}

/** `info pic` of the in-kernel 8259 pair (QEMU's kvm_pic_get before pic_print_info). */
export function kernelPicViews(kvm: Kvm, vm: Vm): { master: PicView; slave: PicView } {
  return { master: picView(kvm, vm, KVM_IRQCHIP_PIC_MASTER), slave: picView(kvm, vm, KVM_IRQCHIP_PIC_SLAVE) };
}

/**
 * The ELCR pair (ports 0x4D0/0x4D1 as the VMM sees them) of the in-kernel 8259s: a write is
 * KVM_GET_IRQCHIP, the new `elcr`, KVM_SET_IRQCHIP (QEMU's kvm_pic_put). The kernel keeps its
 * elcr_mask (IRQ 0-2, 8 and 13 are always edge-triggered).
 */
export function kernelElcr(kvm: Kvm, vm: Vm): PioDevice {
  return {
    maxAccessSize: 1,
    read(offset: number, _size: AccessSize): number {
      return getPic(kvm, vm, offset & 1)
        .sub('chip', kvm_pic_state)
        .get('elcr');
    },
    write(offset: number, _size: AccessSize, value: number): void {
      const v = getPic(kvm, vm, offset & 1);
      v.sub('chip', kvm_pic_state).set('elcr', value & 0xff);
      check(kvm.host.ioctl(vm.fd, KVM_SET_IRQCHIP, v.bytes), 'KVM_SET_IRQCHIP');
    },
  };
}

/**
 * PIT counter 2 as port 0x61 sees it when the PIT is in the kernel (QEMU's kvm_pit_get_channel_info
 * and kvm_pit_set_gate): the gate is written with KVM_GET_PIT2 + KVM_SET_PIT2, OUT is computed from
 * KVM_GET_PIT2's count, mode and count_load_time against the facade's monotonic clock, with the
 * formulas of Linux's pit_get_out().
 */
export class KernelPitSpeaker implements SpeakerTimer {
  constructor(
    private readonly kvm: Kvm,
    private readonly vm: Vm,
  ) {}

  private state() {
    const v = allocStruct(kvm_pit_state2);
    check(this.kvm.host.ioctl(this.vm.fd, KVM_GET_PIT2, v.bytes), 'KVM_GET_PIT2');
    return v;
  }

  private channel(v: ReturnType<KernelPitSpeaker['state']>, channel: number) {
    return new StructView(kvm_pit_channel_state, v.bytes, (channel & 3) * kvm_pit_channel_state.size);
  }

  setGate(channel: number, level: boolean): void {
    const v = this.state();
    const c = this.channel(v, channel);
    if ((c.get('gate') !== 0) === level) return;
    c.set('gate', level ? 1 : 0);
    check(this.kvm.host.ioctl(this.vm.fd, KVM_SET_PIT2, v.bytes), 'KVM_SET_PIT2');
  }

  output(channel: number): boolean {
    const c = this.channel(this.state(), channel);
    const count = c.get('count') || 0x10000;
    const elapsedNs = Math.max(0, this.kvm.host.clock.monotonicNs() - c.get('count_load_time'));
    const s = Math.floor(elapsedNs / 1e9);
    const d = s * PIT_HZ + Math.floor(((elapsedNs - s * 1e9) * PIT_HZ) / 1e9);
    switch (c.get('mode')) {
      case 1:
        return d < count;
      case 2:
        return d % count === 0 && d !== 0;
      case 3:
        return d % count < (count + 1) >> 1;
      case 4:
      case 5:
        return d === count;
      default:
        return d >= count;
    }
  }
}
