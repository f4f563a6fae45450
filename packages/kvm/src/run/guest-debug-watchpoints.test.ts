/**
 * Hardware data breakpoints through KVM_RUN, in the style of Linux's selftests (x86_64/debug_regs.c):
 * KVM_GUESTDBG_USE_HW_BP watchpoints exit with KVM_EXIT_DEBUG as kvm_intel reports them
 * (kvm_debug_exit_arch: exception 1, dr6 = exit qualification | DR6_ACTIVE_LOW, dr7 = GUEST_DR7, pc the
 * linear RIP after the access); the guest's own DR7 breakpoints raise #DB inside the guest; while the
 * VMM's are in force the guest's are set aside. Real-mode guests at 0x1000, bytes spelt out.
 */
import { ExitReason, InterruptionType, makeInterruptionInfo, VmcsField } from '@typevisor/vmx';
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_debugregs, kvm_guest_debug } from '../uapi/structs.js';
import { realModeGuest, type TestGuest } from './guest.test-support.js';

const HLT = 0xf4;
const IRET = 0xcf;
/** mov si, [0x0004]: maps the IVT page first (an EPT violation while delivering a #DB trap loses it). */
const TOUCH_IVT = [0x8b, 0x36, 0x04, 0x00];
/** The guest's #DB handler (IVT entry 1). */
const DB_HANDLER = 0x1100;
const HW = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP;

/** DR7 with breakpoint n enabled (L bit), R/W and LEN fields. */
const dr7 = (n: number, rw: number, len: number): number =>
  (1 << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n)) | 0x400;

function guestDebug(g: TestGuest, control: number, debugreg: readonly number[] = []): number {
  const d = allocStruct(kvm_guest_debug);
  d.set('control', control);
  const regs = new DataView(d.bytesOf('debugreg').buffer, d.bytesOf('debugreg').byteOffset, 64);
  debugreg.forEach((v, i) => {
    regs.setBigUint64(i * 8, BigInt(v), true);
  });
  return g.host.ioctl(g.vcpufd, I.KVM_SET_GUEST_DEBUG, d.bytes);
}

function debugregs(g: TestGuest): { db0: number; dr6: number; dr7: number } {
  const d = allocStruct(kvm_debugregs);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_DEBUGREGS, d.bytes)).toBe(0);
  const db = d.bytesOf('db');
  return {
    db0: new DataView(db.buffer, db.byteOffset).getUint32(0, true),
    dr6: d.get('dr6'),
    dr7: d.get('dr7'),
  };
}

function expectDebugExit(g: TestGuest, pc: number, dr6: number, dr7Value: number): void {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_DEBUG);
  expect(g.run.get('debug.arch.exception')).toBe(1);
  expect(g.run.get('debug.arch.pc')).toBe(pc);
  expect(g.run.get('debug.arch.dr6')).toBe(dr6);
  expect(g.run.get('debug.arch.dr7')).toBe(dr7Value);
}

function expectHlt(g: TestGuest): void {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
}

const read16 = (g: TestGuest, at: number): number => g.ram[at]! | (g.ram[at + 1]! << 8);
const read32 = (g: TestGuest, at: number): number => (read16(g, at) | (read16(g, at + 2) << 16)) >>> 0;

/**
 * mov ax, 0x1234; mov [0x1800], ax; mov ax, [0x1800]; mov [0x17ff], ax; hlt
 * (0x1000, 0x1003, 0x1006, 0x1009, 0x100c)
 */
const ACCESSES = [0xb8, 0x34, 0x12, 0xa3, 0x00, 0x18, 0xa1, 0x00, 0x18, 0xa3, 0xff, 0x17, HLT];

for (const ept of [true, false]) {
  const opts = { vmx: { ept } };
  describe(`hardware watchpoints (ept ${ept ? 'on' : 'off'})`, () => {
    it('USE_HW_BP write watch: exits after each write that touches it, reads pass, the guest DR6 is untouched', () => {
      const g = realModeGuest(ACCESSES, opts);
      // DR0 = 0x1800, R/W0 = 01 (writes), LEN0 = 01 (two bytes).
      const d7 = dr7(0, 1, 1);
      expect(guestDebug(g, HW, [0x1800, 0, 0, 0, 0, 0, 0, d7])).toBe(0);
      expectDebugExit(g, 0x1006, 0xffff0ff1, d7);
      expect(read16(g, 0x1800)).toBe(0x1234); // a trap: the write happened
      expect(g.regs().get('rip')).toBe(0x1006);
      const vmcs = g.host.vcpuRunner(g.vcpufd)!.vmcs;
      expect(vmcs.read32(VmcsField.ExitReason)).toBe(ExitReason.ExceptionOrNmi);
      expect(vmcs.read32(VmcsField.ExitInterruptionInfo)).toBe(
        makeInterruptionInfo(1, InterruptionType.HardwareException),
      );
      expect(vmcs.read32(VmcsField.ExitQualification)).toBe(1);
      // The word write at 0x17ff overlaps the watched 0x1800 in one byte; the read before it passes.
      expectDebugExit(g, 0x100c, 0xffff0ff1, d7);
      expectHlt(g);
      expect(debugregs(g).dr6).toBe(0xffff0ff0);
    });

    it('USE_HW_BP read/write watch of four bytes also exits on the read', () => {
      const g = realModeGuest(ACCESSES, opts);
      // DR2 = 0x1802 with LEN 4: the watch covers 0x1800..0x1803.
      const d7 = dr7(2, 3, 3);
      expect(guestDebug(g, HW, [0, 0, 0x1802, 0, 0, 0, 0, d7])).toBe(0);
      expectDebugExit(g, 0x1006, 0xffff0ff4, d7);
      expectDebugExit(g, 0x1009, 0xffff0ff4, d7);
      expectDebugExit(g, 0x100c, 0xffff0ff4, d7);
      expectHlt(g);
    });

    it('USE_HW_BP with DR7.GD: a guest MOV DR exits before it executes, with BD', () => {
      // mov eax, dr0; hlt
      const g = realModeGuest([0x0f, 0x21, 0xc0, HLT], opts);
      expect(guestDebug(g, HW, [0, 0, 0, 0, 0, 0, 0, 0x2400])).toBe(0);
      expectDebugExit(g, 0x1000, 0xffff2ff0, 0x2400);
      expect(guestDebug(g, 0)).toBe(0);
      expectHlt(g);
    });

    it("without guest debugging the guest's own DR7 watch raises #DB in the guest: its handler sees DR6 and the trap IP", () => {
      // mov si,[4]; mov eax,0x1800; mov dr0,eax; mov eax,0x000d0401; mov dr7,eax; mov [0x1802],al; inc ax; hlt
      const code = [
        ...TOUCH_IVT,
        ...[0x66, 0xb8, 0x00, 0x18, 0x00, 0x00],
        ...[0x0f, 0x23, 0xc0],
        ...[0x66, 0xb8, 0x01, 0x04, 0x0d, 0x00],
        ...[0x0f, 0x23, 0xf8],
        ...[0xa2, 0x02, 0x18],
        0x40,
        HLT,
      ];
      const g = realModeGuest(code, opts);
      // Handler: mov eax, dr6; mov [0x1900], eax; mov bp, sp; mov ax, [bp]; mov [0x1904], ax; iret
      g.ram.set(
        [0x0f, 0x21, 0xf0, 0x66, 0xa3, 0x00, 0x19, 0x89, 0xe5, 0x8b, 0x46, 0x00, 0xa3, 0x04, 0x19, IRET],
        DB_HANDLER,
      );
      g.ram.set([DB_HANDLER & 0xff, DB_HANDLER >> 8, 0, 0], 4);
      expectHlt(g);
      expect(read32(g, 0x1900)).toBe(0xffff0ff1);
      expect(read16(g, 0x1904)).toBe(0x1019); // the IP after the write (inc ax)
      const regs = debugregs(g);
      expect(regs.dr6).toBe(0xffff0ff1);
      expect(regs.dr7).toBe(0x000d0401);
    });

    it("the VMM's breakpoints take precedence; the guest's come back when USE_HW_BP goes", () => {
      // mov si,[4]; mov [0x1800],al; mov [0x1810],al; mov eax,dr7; hlt; mov [0x1800],al; hlt
      const code = [
        ...TOUCH_IVT,
        ...[0xa2, 0x00, 0x18],
        ...[0xa2, 0x10, 0x18],
        ...[0x0f, 0x21, 0xf8],
        HLT,
        ...[0xa2, 0x00, 0x18],
        HLT,
      ];
      const g = realModeGuest(code, opts);
      // The guest's #DB handler counts: inc word [0x1908]; iret
      g.ram.set([0xff, 0x06, 0x08, 0x19, IRET], DB_HANDLER);
      g.ram.set([DB_HANDLER & 0xff, DB_HANDLER >> 8, 0, 0], 4);
      // The guest's own breakpoint: writes to 0x1800.
      const d = allocStruct(kvm_debugregs);
      new DataView(d.bytesOf('db').buffer, d.bytesOf('db').byteOffset).setUint32(0, 0x1800, true);
      d.set('dr6', 0xffff0ff0);
      d.set('dr7', dr7(0, 1, 0));
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(0);
      // The debugger's: writes to 0x1810 through DR1.
      const vmm7 = dr7(1, 1, 0);
      expect(guestDebug(g, HW, [0, 0x1810, 0, 0, 0, 0, 0, vmm7])).toBe(0);
      expectDebugExit(g, 0x100a, 0xffff0ff2, vmm7);
      expectHlt(g);
      expect(read16(g, 0x1908)).toBe(0); // the guest's breakpoint was not armed
      expect(g.regs().get('rax')).toBe(dr7(0, 1, 0)); // its MOV DR7 read its own value
      expect(debugregs(g)).toEqual({ db0: 0x1800, dr6: 0xffff0ff0, dr7: dr7(0, 1, 0) });
      expect(guestDebug(g, 0)).toBe(0);
      expectHlt(g);
      expect(read16(g, 0x1908)).toBe(1);
      expect(debugregs(g).dr6).toBe(0xffff0ff1);
    });
  });
}
