import { ExitReason, VmcsField } from '@typevisor/vmx';
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { EINTR } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct, arrayEntry } from '../uapi/layout.js';
import {
  kvm_cpuid_entry2,
  kvm_cpuid2,
  kvm_guest_debug,
  kvm_interrupt,
  kvm_segment,
  kvm_sregs,
} from '../uapi/structs.js';
import { realModeGuest } from './guest.test-support.js';

const HLT = 0xf4;
const MOV_DX_3F8 = [0xba, 0xf8, 0x03];
const OUT_DX_AL = 0xee;

for (const ept of [true, false]) {
  const opts = { vmx: { ept } };
  describe(`KVM_RUN exits (ept ${ept ? 'on' : 'off'})`, () => {
    it('completes IN on the next KVM_RUN with the data userspace left at data_offset', () => {
      // mov dx,0x60; in al,dx; mov dx,0x3f8; out dx,al; in ax,0x71; hlt
      const g = realModeGuest([0xba, 0x60, 0x00, 0xec, ...MOV_DX_3F8, OUT_DX_AL, 0xe5, 0x71, HLT], opts);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.direction')).toBe(C.KVM_EXIT_IO_IN);
      expect(g.run.get('io.port')).toBe(0x60);
      expect(g.run.get('io.size')).toBe(1);
      // Until the next KVM_RUN, RIP still points at the IN (complete_fast_pio_in moves it).
      expect(g.regs().get('rip')).toBe(0x1003);
      g.map[g.run.get('io.data_offset')] = 0x42;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.direction')).toBe(C.KVM_EXIT_IO_OUT);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x42);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.direction')).toBe(C.KVM_EXIT_IO_IN);
      expect(g.run.get('io.size')).toBe(2);
      expect(g.run.get('io.port')).toBe(0x71);
      // The VMCS holds the SDM exit qualification: size-1, IN, immediate operand, port.
      const vmcs = g.host.vcpuRunner(g.vcpufd)!.vmcs;
      expect(vmcs.read32(VmcsField.ExitReason)).toBe(ExitReason.IoInstruction);
      expect(vmcs.readLo(VmcsField.ExitQualification)).toBe((1 | (1 << 3) | (1 << 6) | (0x71 << 16)) >>> 0);
      expect(vmcs.read32(VmcsField.ExitInstructionLength)).toBe(2);
      g.map.set([0x34, 0x12], g.run.get('io.data_offset'));
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xffff).toBe(0x1234);
    });

    it('gives REP OUTSB as one exit with count and the bytes in the PIO page', () => {
      // mov si,0x1100; mov cx,5; mov dx,0x3f8; rep outsb; hlt
      const g = realModeGuest([0xbe, 0x00, 0x11, 0xb9, 0x05, 0x00, ...MOV_DX_3F8, 0xf3, 0x6e, HLT], opts);
      g.ram.set(new TextEncoder().encode('hello'), 0x1100);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.direction')).toBe(C.KVM_EXIT_IO_OUT);
      expect(g.run.get('io.count')).toBe(5);
      const off = g.run.get('io.data_offset');
      expect(new TextDecoder().decode(g.map.subarray(off, off + 5))).toBe('hello');
      const vmcs = g.host.vcpuRunner(g.vcpufd)!.vmcs;
      // string (bit 4) and REP (bit 5) in the qualification
      expect(vmcs.readLo(VmcsField.ExitQualification)).toBe(((1 << 4) | (1 << 5) | (0x3f8 << 16)) >>> 0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      const r = g.regs();
      expect(r.get('rcx') & 0xffff).toBe(0);
      expect(r.get('rsi') & 0xffff).toBe(0x1105);
    });

    it('completes REP INSB by storing the data userspace supplied', () => {
      // mov di,0x1200; mov cx,3; mov dx,0x60; rep insb; hlt
      const g = realModeGuest([0xbf, 0x00, 0x12, 0xb9, 0x03, 0x00, 0xba, 0x60, 0x00, 0xf3, 0x6c, HLT], opts);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.direction')).toBe(C.KVM_EXIT_IO_IN);
      expect(g.run.get('io.count')).toBe(3);
      g.map.set([0x61, 0x62, 0x63], g.run.get('io.data_offset'));
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect([...g.ram.subarray(0x1200, 0x1203)]).toEqual([0x61, 0x62, 0x63]);
      expect(g.regs().get('rdi') & 0xffff).toBe(0x1203);
    });

    it('exits for MMIO reads and writes outside every slot and completes the read with the data', () => {
      // mov al,[0x2000]; mov [0x2004],al; mov ax,[0x2008]; hlt
      const g = realModeGuest([0xa0, 0x00, 0x20, 0xa2, 0x04, 0x20, 0xa1, 0x08, 0x20, HLT], opts);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_MMIO);
      expect(g.run.get('mmio.phys_addr')).toBe(0x2000);
      expect(g.run.get('mmio.len')).toBe(1);
      expect(g.run.get('mmio.is_write')).toBe(0);
      g.run.bytesOf('mmio.data')[0] = 0x5a;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_MMIO);
      expect(g.run.get('mmio.phys_addr')).toBe(0x2004);
      expect(g.run.get('mmio.is_write')).toBe(1);
      expect(g.run.bytesOf('mmio.data')[0]).toBe(0x5a);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('mmio.phys_addr')).toBe(0x2008);
      expect(g.run.get('mmio.len')).toBe(2);
      g.run.bytesOf('mmio.data').set([0xcd, 0xab]);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xffff).toBe(0xabcd);
    });

    it('reads READONLY slots in the kernel and turns writes to them into MMIO exits', () => {
      // mov al,[0x3000]; mov [0x3001],al; mov dx,0x3f8; out dx,al; hlt
      const g = realModeGuest([0xa0, 0x00, 0x30, 0xa2, 0x01, 0x30, ...MOV_DX_3F8, OUT_DX_AL, HLT], opts);
      const rom = g.addSlot(1, 0x3000, 0x1000, C.KVM_MEM_READONLY);
      rom[0] = 0x77;
      rom[1] = 0x11;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_MMIO);
      expect(g.run.get('mmio.is_write')).toBe(1);
      expect(g.run.get('mmio.phys_addr')).toBe(0x3001);
      expect(g.run.bytesOf('mmio.data')[0]).toBe(0x77);
      expect(rom[1]).toBe(0x11);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x77);
    });

    it('returns -EINTR for immediate_exit without running, after completing pending I/O', () => {
      const g = realModeGuest([0xba, 0x60, 0x00, 0xec, HLT], opts);
      g.run.set('immediate_exit', 1);
      expect(g.runOnce()).toBe(-EINTR);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_INTR);
      expect(g.regs().get('rip')).toBe(0x1000);
      g.run.set('immediate_exit', 0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      g.map[g.run.get('io.data_offset')] = 0x99;
      g.run.set('immediate_exit', 1);
      expect(g.runOnce()).toBe(-EINTR);
      const r = g.regs();
      expect(r.get('rip')).toBe(0x1004);
      expect(r.get('rax') & 0xff).toBe(0x99);
    });

    it('opens an interrupt window on request and injects KVM_INTERRUPT through the IVT', () => {
      // cli; mov dx,0x3f8; out dx,al; sti; nop; nop; hlt   handler at 0x1200: mov al,0x20; out 0x20,al; iret
      const g = realModeGuest([0xfa, ...MOV_DX_3F8, OUT_DX_AL, 0xfb, 0x90, 0x90, HLT], opts);
      g.ram.set([0xb0, 0x20, 0xe6, 0x20, 0xcf], 0x1200);
      g.ram.set([0x00, 0x12, 0x00, 0x00], 0x20 * 4);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('if_flag')).toBe(0);
      expect(g.run.get('ready_for_interrupt_injection')).toBe(0);
      g.run.set('request_interrupt_window', 1);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IRQ_WINDOW_OPEN);
      expect(g.run.get('if_flag')).toBe(1);
      expect(g.run.get('ready_for_interrupt_injection')).toBe(1);
      // STI's shadow covers the first NOP: the window opens after it.
      expect(g.regs().get('rip')).toBe(0x1007);
      const irq = allocStruct(kvm_interrupt);
      irq.set('irq', 0x20);
      expect(g.host.ioctl(g.vcpufd, I.KVM_INTERRUPT, irq.bytes)).toBe(0);
      g.run.set('request_interrupt_window', 0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.port')).toBe(0x20);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rip')).toBe(0x1009);
    });

    it('reports a triple fault as KVM_EXIT_SHUTDOWN', () => {
      // ud2 with an empty IVT: #UD, #GP, #DF all fail to deliver
      const g = realModeGuest([0x0f, 0x0b], opts);
      const s = allocStruct(kvm_sregs);
      g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes);
      s.view.setUint16(kvm_sregs.fields.idt.offset + 8, 0, true);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_SREGS, s.bytes)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_SHUTDOWN);
      expect(g.host.vcpuRunner(g.vcpufd)!.stats.exits[ExitReason.TripleFault]).toBe(1);
    });

    it('answers CPUID in the kernel from KVM_SET_CPUID2 and counts the exits', () => {
      // xor eax,eax; cpuid; hlt
      const g = realModeGuest([0x66, 0x31, 0xc0, 0x0f, 0xa2, HLT], opts);
      const bytes = new Uint8Array(kvm_cpuid2.size + kvm_cpuid_entry2.size);
      new DataView(bytes.buffer).setUint32(0, 1, true);
      const e = arrayEntry(kvm_cpuid_entry2, bytes, kvm_cpuid2.size, 0);
      e.set('function', 0);
      e.set('eax', 1);
      e.set('ebx', 0x756e6547);
      e.set('edx', 0x49656e69);
      e.set('ecx', 0x6c65746e);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_CPUID2, bytes)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      const r = g.regs();
      expect([r.get('rax'), r.get('rbx'), r.get('rcx'), r.get('rdx')]).toEqual([
        1, 0x756e6547, 0x6c65746e, 0x49656e69,
      ]);
      const st = g.host.vcpuRunner(g.vcpufd)!.stats;
      expect(st.exits[ExitReason.Cpuid]).toBe(1);
      expect(st.exits[ExitReason.Hlt]).toBe(1);
      expect(st.userspaceExits[C.KVM_EXIT_HLT]).toBe(1);
      expect(st.userspaceExits[C.KVM_EXIT_IO]).toBe(0);
      expect(st.kernelExits).toBeGreaterThanOrEqual(1);
      expect(st.runs).toBe(1);
      expect(st.userspaceReturns).toBe(1);
      // With EPT the code page is mapped on its first fetch: an EPT violation the kernel fixes.
      expect(st.exits[ExitReason.EptViolation]).toBe(ept ? 1 : 0);
      expect(st.pfFixed).toBe(ept ? 1 : 0);
    });

    it('single-steps with KVM_GUESTDBG_SINGLESTEP: one KVM_EXIT_DEBUG per instruction', () => {
      // nop; inc ax; hlt
      const g = realModeGuest([0x90, 0x40, HLT], opts);
      const dbg = allocStruct(kvm_guest_debug);
      dbg.set('control', C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_GUEST_DEBUG, dbg.bytes)).toBe(0);
      const pcs: number[] = [];
      for (let i = 0; i < 2; i++) {
        expect(g.runOnce()).toBe(0);
        expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_DEBUG);
        expect(g.run.get('debug.arch.exception')).toBe(1);
        pcs.push(g.run.get('debug.arch.pc'));
      }
      expect(pcs).toEqual([0x1001, 0x1002]);
      expect(g.regs().get('rax') & 0xffff).toBe(1);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    });

    it('fails the entry with the hardware reason when the guest state breaks a VM-entry check', () => {
      const g = realModeGuest([HLT], opts);
      const s = allocStruct(kvm_sregs);
      g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes);
      s.sub('tr', kvm_segment).set('type', 1); // a 16-bit available TSS: never valid for VM entry
      s.sub('tr', kvm_segment).set('present', 1);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_SREGS, s.bytes)).toBe(0);
      expect(g.runOnce()).toBe(0);
      if (ept) {
        expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_FAIL_ENTRY);
        expect(g.run.get('fail_entry.hardware_entry_failure_reason')).toBe(0x8000_0021);
      } else {
        // enter_rmode replaces TR with KVM's own real-mode TSS, so the entry succeeds.
        expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      }
    });
  });
}
