/** The typed face Kvm -> Vm -> Vcpu over the raw one. */
import { describe, expect, it } from 'vitest';
import { KvmError } from './errors.js';
import { KvmHost } from './kernel/host.js';
import { Kvm } from './kvm.js';
import {
  KVM_CAP_NR_MEMSLOTS,
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MP_STATE_RUNNABLE,
} from './uapi/constants.js';
import { EEXIST, EINVAL } from './uapi/errno.js';

const open = () => Kvm.open(new KvmHost());

describe('Kvm', () => {
  it('answers the system queries', () => {
    const kvm = open();
    expect(kvm.getApiVersion()).toBe(12);
    expect(kvm.checkExtension(KVM_CAP_NR_MEMSLOTS)).toBe(32764);
    expect(kvm.getVcpuMmapSize()).toBe(12288);
    const cpuid = kvm.getSupportedCpuid();
    // The default model has leaf 7 (structured extended features), leaf 0DH sub-leaves 0-2 (x87, SSE,
    // AVX), KVM's signature and paravirtual-feature leaves, and IA-32e mode: leaves 80000001H (LM, SYSCALL, NX, ...) and 80000008H.
    expect(cpuid.map((e) => [e.function, e.index])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [7, 0],
      [0xd, 0],
      [0xd, 1],
      [0xd, 2],
      [0x40000000, 0],
      [0x40000001, 0],
      [0x80000000, 0],
      [0x80000001, 0],
      [0x80000008, 0],
    ]);
    expect(kvm.getMsrIndexList()).toContain(0x10);
  });

  it('throws KvmError carrying the errno when a call fails', () => {
    const kvm = open();
    const err = (() => {
      try {
        kvm.createVm(7);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(KvmError);
    expect((err as KvmError).errno).toBe(EINVAL);
    expect((err as KvmError).message).toMatch(/KVM_CREATE_VM failed: EINVAL/);
  });
});

describe('Vm and Vcpu', () => {
  it('sets memory, logs dirty pages, and reads back registers', () => {
    const kvm = open();
    const vm = kvm.createVm();
    const ram = kvm.host.mmap(0x10000);
    vm.setUserMemoryRegion({
      slot: 0,
      flags: KVM_MEM_LOG_DIRTY_PAGES,
      guestPhysAddr: 0x1000,
      memorySize: 0x10000,
      userspaceAddr: ram.addr,
    });
    expect(() =>
      vm.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x2000, memorySize: 0x1000, userspaceAddr: ram.addr }),
    ).toThrow(expect.objectContaining({ errno: EEXIST }));
    kvm.host.vmState(vm.fd)!.memslots.memory.write8(0x1000 + 2 * 4096, 1);
    const log = vm.getDirtyLog(0, 0x10000);
    expect(Array.from(log)).toEqual([0b100, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(vm.getDirtyLog(0, 0x10000))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);

    const vcpu = vm.createVcpu(0);
    const regs = vcpu.getRegs();
    expect(regs.rip).toBe(0xfff0n);
    vcpu.setRegs({ ...regs, rip: 0x1000n, rax: 2n, rbx: 0xffff_ffff_ffff_ffffn, rflags: 0x2n });
    expect(vcpu.getRegs()).toMatchObject({ rip: 0x1000n, rax: 2n, rbx: 0xffff_ffff_ffff_ffffn });

    const sregs = vcpu.getSregs();
    expect(sregs.cs).toMatchObject({ selector: 0xf000, base: 0xffff0000n });
    sregs.cs.base = 0n;
    sregs.cs.selector = 0;
    vcpu.setSregs(sregs);
    expect(vcpu.getSregs().cs).toMatchObject({ selector: 0, base: 0n });
    sregs.cr0 = 0x80000000n;
    expect(() => vcpu.setSregs(sregs)).toThrow(KvmError);

    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    vcpu.setMpState(KVM_MP_STATE_RUNNABLE);
    expect(vcpu.run.byteLength).toBe(12288);
    expect(vcpu.exit().kind).toBe('Unknown');
  });

  it('passes FPU, CPUID, events, interrupts and NMIs through', () => {
    const kvm = open();
    const vcpu = kvm.createVm().createVcpu(0);
    const fpu = vcpu.getFpu();
    expect(fpu.get('fcw')).toBe(0x37f);
    fpu.set('fcw', 0x27f);
    vcpu.setFpu(fpu);
    expect(vcpu.getFpu().get('fcw')).toBe(0x27f);
    const supported = kvm.getSupportedCpuid();
    vcpu.setCpuid2(supported);
    expect(vcpu.getCpuid2()).toEqual(supported);
    vcpu.interrupt(0x30);
    vcpu.nmi();
    const ev = vcpu.getVcpuEvents();
    expect([ev.get('interrupt.injected'), ev.get('interrupt.nr'), ev.get('nmi.pending')]).toEqual([
      1, 0x30, 1,
    ]);
    ev.set('interrupt.injected', 0);
    vcpu.setVcpuEvents(ev);
    expect(vcpu.getVcpuEvents().get('interrupt.injected')).toBe(0);
    expect(() => vcpu.interrupt(300)).toThrow(KvmError);
    vcpu.setGuestDebug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, [
      0x1000n,
      0n,
      0n,
      0n,
      0n,
      0n,
      0n,
      0x401n,
    ]);
    expect(() => vcpu.setGuestDebug(1 << 30)).toThrow(expect.objectContaining({ errno: EINVAL }));
  });

  it('moves debug registers, XCRs and the XSAVE area', () => {
    const kvm = open();
    const vcpu = kvm.createVm().createVcpu(0);
    const regs = {
      db: [0x1000n, 0n, 0n, 0xfffff000n] as [bigint, bigint, bigint, bigint],
      dr6: 0xffff0ff1n,
      dr7: 0x403n,
    };
    vcpu.setDebugRegs(regs);
    expect(vcpu.getDebugRegs()).toEqual(regs);
    expect(() => vcpu.setDebugRegs({ ...regs, dr7: 1n << 32n })).toThrow(
      expect.objectContaining({ errno: EINVAL }),
    );
    expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 1n }]);
    vcpu.setXcrs([{ xcr: 0, value: 1n }]);
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 3n }])).toThrow(expect.objectContaining({ errno: EINVAL }));
    const xsave = vcpu.getXsave();
    expect(new DataView(xsave.buffer).getUint16(0, true)).toBe(0x37f);
    new DataView(xsave.buffer).setUint16(0, 0x27f, true);
    vcpu.setXsave(xsave);
    expect(vcpu.getFpu().get('fcw')).toBe(0x27f);
  });

  it('registers ioeventfds and keeps the clock', () => {
    const kvm = open();
    const vm = kvm.createVm();
    const efd = kvm.host.eventfd();
    vm.registerIoevent(efd, { pio: 0x510 }, { size: 2, value: 0x10 });
    expect(() => vm.registerIoevent(efd, { pio: 0x510 })).toThrow(KvmError);
    vm.registerIoevent(efd, { mmio: 0xd0000000 });
    const t = kvm.host.vmState(vm.fd)!.ioeventfds;
    expect(t.write('pio', 0x510, 2, 0x10)).toBe(true);
    vm.unregisterIoevent(efd, { pio: 0x510 }, { size: 2, value: 0x10 });
    expect(t.write('pio', 0x510, 2, 0x10)).toBe(false);
    expect(() => vm.registerIrqfd(efd, 4)).toThrow(expect.objectContaining({ errno: EINVAL }));
    vm.unregisterIrqfd(efd, 4);

    vm.setClock({ clock: 10n ** 9n });
    expect(vm.getClock().clock).toBeGreaterThanOrEqual(10n ** 9n);
    vm.setTssAddress(0xfffbd000);
    expect(() => vm.setIdentityMapAddress(0xfffbc000)).not.toThrow();
  });
});

describe('Vm irqchip calls', () => {
  it('creates the irqchip and PIT, drives lines and MSIs, and throws the kernel errno', () => {
    const kvm = open();
    const vm = kvm.createVm();
    expect(() => vm.setIrqLine(0, true)).toThrow(KvmError);
    vm.createIrqChip();
    const again = (() => {
      try {
        vm.createIrqChip();
      } catch (e) {
        return e as KvmError;
      }
      return null;
    })();
    expect(again?.errno).toBe(EEXIST);
    vm.createPit2();
    const vcpu = vm.createVcpu(0);
    expect(vm.setIrqLine(3, true)).toBe(1); // the 8259's IRQ 3 (IMR 0 after reset)
    expect(vm.setIrqLine(3, true)).toBe(1); // a level already high: no new edge, not coalesced
    expect(vm.signalMsi({ addressLo: 0xfee00000, data: 0x30 })).toBe(0); // LAPIC software-disabled
    expect(vcpu.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
  });
});
