/**
 * Guest debugging through KVM_RUN (KVM_SET_GUEST_DEBUG: software and hardware breakpoints, single
 * steps) and the x87 / debug-register state the guest sees through KVM_GET/SET_XSAVE and DEBUGREGS.
 * Guests are real-mode code at 0x1000 (bytes spelt out with their assembly).
 */
import { ExitReason, InterruptionType, makeInterruptionInfo, VmcsField } from '@typevisor/vmx';
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_debugregs, kvm_guest_debug, kvm_xsave } from '../uapi/structs.js';
import { realModeGuest, type TestGuest } from './guest.test-support.js';
import { XSAVE } from '../kernel/xstate-ioctls.js';

const HLT = 0xf4;
const INC_AX = 0x40;
const INT3 = 0xcc;
const NOP = 0x90;
const IRET = 0xcf;
/** mov bx, 0xbeef */
const MOV_BX_BEEF = [0xbb, 0xef, 0xbe];
/** The #BP handler of the IVT: mov bx, 0xbeef; iret. */
const HANDLER = 0x1100;
/**
 * mov si, [0x000c]: touches the IVT page first, so that with EPT the page is mapped before an INT
 * instruction reads it (an EPT violation inside INT n delivery makes the CPU retry the INT until its
 * instruction budget runs out before exiting: correct, but seconds slow).
 */
const TOUCH_IVT = [0x8b, 0x36, 0x0c, 0x00];

function guestDebug(g: TestGuest, control: number, debugreg: readonly number[] = []): number {
  const d = allocStruct(kvm_guest_debug);
  d.set('control', control);
  const regs = new DataView(d.bytesOf('debugreg').buffer, d.bytesOf('debugreg').byteOffset, 64);
  debugreg.forEach((v, i) => {
    regs.setBigUint64(i * 8, BigInt(v), true);
  });
  return g.host.ioctl(g.vcpufd, I.KVM_SET_GUEST_DEBUG, d.bytes);
}

/** A guest whose IVT entry 3 points at HANDLER (mov bx, 0xbeef; iret). */
function guestWithBpHandler(code: readonly number[], opts: object): TestGuest {
  const g = realModeGuest(code, opts);
  g.ram.set([...MOV_BX_BEEF, IRET], HANDLER);
  g.ram.set([HANDLER & 0xff, HANDLER >> 8, 0, 0], 3 * 4);
  return g;
}

function expectDebugExit(g: TestGuest, exception: number, pc: number): void {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_DEBUG);
  expect(g.run.get('debug.arch.exception')).toBe(exception);
  expect(g.run.get('debug.arch.pc')).toBe(pc);
}

for (const ept of [true, false]) {
  const opts = { vmx: { ept } };
  describe(`guest debugging (ept ${ept ? 'on' : 'off'})`, () => {
    it('USE_SW_BP: INT3 exits with exception 3 and pc at the INT3; the guest never sees the #BP', () => {
      // inc ax; int3; inc ax; hlt
      const g = guestWithBpHandler([INC_AX, INT3, INC_AX, HLT], opts);
      expect(guestDebug(g, C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_SW_BP)).toBe(0);
      expectDebugExit(g, 3, 0x1001);
      expect(g.regs().get('rip')).toBe(0x1001);
      expect(g.regs().get('rsp')).toBe(0x1ff0);
      const vmcs = g.host.vcpuRunner(g.vcpufd)!.vmcs;
      expect(vmcs.read32(VmcsField.ExitReason)).toBe(ExitReason.ExceptionOrNmi);
      expect(vmcs.read32(VmcsField.ExitInterruptionInfo)).toBe(
        makeInterruptionInfo(3, InterruptionType.SoftwareException),
      );
      expect(vmcs.read32(VmcsField.ExitInstructionLength)).toBe(1);
      // The VMM steps over its breakpoint.
      g.setRegs({ rip: 0x1002 });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xffff).toBe(2);
      expect(g.regs().get('rbx') & 0xffff).toBe(0);
    });

    it('USE_SW_BP survives a memslot change (a new VMCS exception bitmap)', () => {
      // int3; int3; hlt
      const g = guestWithBpHandler([INT3, INT3, HLT], opts);
      expect(guestDebug(g, C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_SW_BP)).toBe(0);
      expectDebugExit(g, 3, 0x1000);
      g.addSlot(1, 0x10000, 0x1000);
      g.setRegs({ rip: 0x1001 });
      expectDebugExit(g, 3, 0x1001);
      expect(g.regs().get('rbx') & 0xffff).toBe(0);
    });

    it('USE_SW_BP: INT 3 spelt CD 03 is a software interrupt and reaches the guest', () => {
      // mov si,[0xc]; int 3; hlt
      const g = guestWithBpHandler([...TOUCH_IVT, 0xcd, 0x03, HLT], opts);
      expect(guestDebug(g, C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_SW_BP)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rbx') & 0xffff).toBe(0xbeef);
    });

    it('without USE_SW_BP the guest takes its own #BP', () => {
      // mov si,[0xc]; int3; hlt
      const g = guestWithBpHandler([...TOUCH_IVT, INT3, HLT], opts);
      expect(guestDebug(g, C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP)).toBe(0);
      expect(guestDebug(g, 0)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rbx') & 0xffff).toBe(0xbeef);
    });

    it('INJECT_BP after a breakpoint exit gives the guest its #BP, returning past the INT3', () => {
      // inc ax; int3; inc ax; hlt
      const g = guestWithBpHandler([INC_AX, INT3, INC_AX, HLT], opts);
      const sw = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_SW_BP;
      expect(guestDebug(g, sw)).toBe(0);
      expectDebugExit(g, 3, 0x1001);
      // Not the debugger's breakpoint: re-inject it (QEMU's kvm_handle_debug does this).
      expect(guestDebug(g, sw | C.KVM_GUESTDBG_INJECT_BP)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rbx') & 0xffff).toBe(0xbeef);
      expect(g.regs().get('rax') & 0xffff).toBe(2);
      expect(g.regs().get('rip')).toBe(0x1004);
    });

    it('SINGLESTEP visits every instruction in order, kernel-emulated (CPUID) and userspace (OUT) ones too', () => {
      // nop; cpuid; mov dx,0x3f8; out dx,al; inc ax; hlt
      const g = realModeGuest([NOP, 0x0f, 0xa2, 0xba, 0xf8, 0x03, 0xee, INC_AX, HLT], opts);
      expect(guestDebug(g, C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP)).toBe(0);
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        expect(g.runOnce()).toBe(0);
        const reason = g.run.get('exit_reason');
        if (reason === C.KVM_EXIT_HLT) break;
        if (reason === C.KVM_EXIT_IO) {
          seen.push(`io ${g.run.get('io.port').toString(16)}`);
          continue;
        }
        expect(reason).toBe(C.KVM_EXIT_DEBUG);
        expect(g.run.get('debug.arch.exception')).toBe(1);
        expect(g.run.get('debug.arch.dr6')).toBe(0xffff4ff0);
        expect(g.run.get('debug.arch.dr7')).toBe(0x400);
        seen.push(g.run.get('debug.arch.pc').toString(16));
      }
      expect(seen).toEqual(['1001', '1003', '1006', 'io 3f8', '1007', '1008']);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xffff).toBe(1);
    });

    it('USE_HW_BP: an execution breakpoint exits before its instruction, with its B bit in DR6', () => {
      // inc ax; inc ax; inc ax; hlt
      const g = realModeGuest([INC_AX, INC_AX, INC_AX, HLT], opts);
      // DR1 = 0x1002, DR7.L1 with R/W1 = LEN1 = 00 (execution).
      expect(
        guestDebug(g, C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP, [0, 0x1002, 0, 0, 0, 0, 0, 0x404]),
      ).toBe(0);
      expectDebugExit(g, 1, 0x1002);
      expect(g.run.get('debug.arch.dr6')).toBe(0xffff0ff2);
      expect(g.run.get('debug.arch.dr7')).toBe(0x404);
      expect(g.regs().get('rax') & 0xffff).toBe(2);
      expect(g.regs().get('rip')).toBe(0x1002);
      // Hitting it again without moving on exits again; RFLAGS.RF lets the instruction run once.
      expectDebugExit(g, 1, 0x1002);
      g.setRegs({ rflags: 0x10002 });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xffff).toBe(3);
      expect(g.regs().get('rflags') & 0x10000).toBe(0);
    });

    it('USE_HW_BP: a breakpoint at the entry RIP fires at once; disabling it lets the guest run', () => {
      const g = realModeGuest([INC_AX, INC_AX, HLT], opts);
      const hw = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP;
      expect(guestDebug(g, hw, [0x1000, 0, 0, 0, 0, 0, 0, 0x402])).toBe(0);
      expectDebugExit(g, 1, 0x1000);
      expect(g.run.get('debug.arch.dr6')).toBe(0xffff0ff1);
      expect(g.regs().get('rax') & 0xffff).toBe(0);
      // A data-write breakpoint on the same address does not stop execution.
      expect(guestDebug(g, hw, [0x1000, 0, 0, 0, 0, 0, 0, 0x10402])).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xffff).toBe(2);
    });

    it('the guest x87 state shows in KVM_GET_XSAVE, and KVM_SET_XSAVE reaches the guest', () => {
      // fld1; hlt; fistp word [0x1800]; hlt
      const g = realModeGuest([0xd9, 0xe8, HLT, 0xdf, 0x1e, 0x00, 0x18, HLT], opts);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      const x = new Uint8Array(kvm_xsave.size);
      expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XSAVE, x)).toBe(0);
      const v = new DataView(x.buffer);
      expect((v.getUint16(XSAVE.FSW, true) >> 11) & 7).toBe(7); // TOP after one push
      expect(v.getUint8(XSAVE.FTW)).toBe(0x80);
      expect(v.getBigUint64(XSAVE.ST0, true)).toBe(0x8000_0000_0000_0000n); // ST(0) = 1.0
      expect(v.getUint16(XSAVE.ST0 + 8, true)).toBe(0x3fff);
      // ST(0) := 5.0 (0x4001 : 0xa000...); the guest stores it as an integer.
      v.setBigUint64(XSAVE.ST0, 0xa000_0000_0000_0000n, true);
      v.setUint16(XSAVE.ST0 + 8, 0x4001, true);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_XSAVE, x)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.ram[0x1800]).toBe(5);
      expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XSAVE, x)).toBe(0);
      expect(v.getUint8(XSAVE.FTW)).toBe(0); // popped: the stack is empty again
    });

    it('the guest reads and writes the debug registers KVM_SET/GET_DEBUGREGS hold', () => {
      // mov eax, 0x12345678; mov dr0, eax; mov eax, dr7; hlt
      const g = realModeGuest(
        [0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, 0x0f, 0x23, 0xc0, 0x0f, 0x21, 0xf8, HLT],
        opts,
      );
      const d = allocStruct(kvm_debugregs);
      d.set('dr6', 0xffff0ff0);
      d.set('dr7', 0x0003_0403);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax')).toBe(0x0003_0403);
      const back = allocStruct(kvm_debugregs);
      expect(g.host.ioctl(g.vcpufd, I.KVM_GET_DEBUGREGS, back.bytes)).toBe(0);
      expect(new DataView(back.bytesOf('db').buffer, back.bytesOf('db').byteOffset).getUint32(0, true)).toBe(
        0x12345678,
      );
      expect(back.get('dr7')).toBe(0x0003_0403);
    });
  });
}
