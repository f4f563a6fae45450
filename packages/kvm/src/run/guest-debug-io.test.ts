/**
 * Guest debugging around exits the kernel completes, in the style of Linux's selftests
 * (x86_64/debug_regs.c): I/O breakpoints (DR7 R/W = 10 under CR4.DE) on IN/OUT that exit to userspace
 * or to in-kernel devices, KVM_GUESTDBG_BLOCKIRQ (no NMI or interrupt injected while set) with
 * KVM_CAP_SET_GUEST_DEBUG2, and #DB traps whose delivery meets an EPT violation (the IVT page not mapped
 * yet), which are delivered again after the kernel maps the page (IDT-vectoring re-injection).
 * Real-mode guests at 0x1000, bytes spelt out.
 */
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_debugregs, kvm_guest_debug, kvm_irq_level, kvm_sregs } from '../uapi/structs.js';
import { realModeGuest, TestClock, type TestGuest } from './guest.test-support.js';

const HLT = 0xf4;
const NOP = 0x90;
const INC_AX = 0x40;
const STI = 0xfb;
const IRET = 0xcf;
/** The guest's handler of the vector under test (IVT entry set by `ivt`). */
const HANDLER = 0x1100;
const HW = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_USE_HW_BP;
const STEP = C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP;
const BLOCK = STEP | C.KVM_GUESTDBG_BLOCKIRQ;
const CR4_DE = 0x8;

/** DR7 with breakpoint n enabled (L bit), R/W and LEN fields. */
const dr7 = (n: number, rw: number, len: number): number =>
  (1 << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n)) | 0x400;
const IO = 2;

function guestDebug(g: TestGuest, control: number, debugreg: readonly number[] = []): void {
  const d = allocStruct(kvm_guest_debug);
  d.set('control', control);
  const regs = new DataView(d.bytesOf('debugreg').buffer, d.bytesOf('debugreg').byteOffset, 64);
  debugreg.forEach((v, i) => {
    regs.setBigUint64(i * 8, BigInt(v), true);
  });
  expect(g.host.ioctl(g.vcpufd, I.KVM_SET_GUEST_DEBUG, d.bytes)).toBe(0);
}

function setCr4(g: TestGuest, cr4: number): void {
  const s = allocStruct(kvm_sregs);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes)).toBe(0);
  s.set('cr4', cr4);
  expect(g.host.ioctl(g.vcpufd, I.KVM_SET_SREGS, s.bytes)).toBe(0);
}

/** The guest's own DR0 and DR7 (KVM_SET_DEBUGREGS); returns a reader of its DR6. */
function setGuestDr(g: TestGuest, dr0: number, dr7Value: number): () => number {
  const d = allocStruct(kvm_debugregs);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_DEBUGREGS, d.bytes)).toBe(0);
  new DataView(d.bytesOf('db').buffer, d.bytesOf('db').byteOffset).setUint32(0, dr0, true);
  d.set('dr7', dr7Value);
  expect(g.host.ioctl(g.vcpufd, I.KVM_SET_DEBUGREGS, d.bytes)).toBe(0);
  return () => {
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_DEBUGREGS, d.bytes)).toBe(0);
    return d.get('dr6');
  };
}

/** IVT entry `vector` -> 0000:HANDLER, with `handler` there. */
function ivt(g: TestGuest, vector: number, handler: readonly number[]): void {
  g.ram.set([HANDLER & 0xff, HANDLER >> 8, 0, 0], vector * 4);
  g.ram.set(handler, HANDLER);
}

function expectExit(g: TestGuest, reason: number): void {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(reason);
}

function expectIo(g: TestGuest, port: number, input: boolean): void {
  expectExit(g, C.KVM_EXIT_IO);
  expect(g.run.get('io.port')).toBe(port);
  expect(g.run.get('io.direction')).toBe(input ? C.KVM_EXIT_IO_IN : C.KVM_EXIT_IO_OUT);
}

function expectDebugExit(g: TestGuest, pc: number, dr6: number, dr7Value?: number): void {
  expectExit(g, C.KVM_EXIT_DEBUG);
  expect(g.run.get('debug.arch.exception')).toBe(1);
  expect(g.run.get('debug.arch.pc')).toBe(pc);
  expect(g.run.get('debug.arch.dr6')).toBe(dr6);
  if (dr7Value !== undefined) expect(g.run.get('debug.arch.dr7')).toBe(dr7Value);
}

const read16 = (g: TestGuest, at: number): number => g.ram[at]! | (g.ram[at + 1]! << 8);

/** mov al,0x42 (0x1000); out 0x80,al (0x1002); inc ax (0x1004); hlt (0x1005) */
const OUT_80 = [0xb0, 0x42, 0xe6, 0x80, INC_AX, HLT];
/** in al,0x61 (0x1000); inc ax (0x1002); hlt (0x1003) */
const IN_61 = [0xe4, 0x61, INC_AX, HLT];

/** Master 8259: ICW1-4 (vectors 0x08.., 8086 mode), IRQ 0 unmasked; all in the kernel. */
const PIC_INIT = [
  ...[0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21],
  ...[0xb0, 0xfe, 0xe6, 0x21],
];

for (const ept of [true, false]) {
  const opts = { vmx: { ept } };

  describe(`I/O breakpoints on exiting IN/OUT (ept ${ept ? 'on' : 'off'})`, () => {
    it('USE_HW_BP: an OUT to a userspace port exits with KVM_EXIT_IO, then KVM_EXIT_DEBUG after it (B0)', () => {
      const g = realModeGuest(OUT_80, opts);
      setCr4(g, CR4_DE);
      const d7 = dr7(0, IO, 0);
      guestDebug(g, HW, [0x80, 0, 0, 0, 0, 0, 0, d7]);
      expectIo(g, 0x80, false);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x42);
      // The OUT completed (RIP past it), then the trap: pc the next instruction, dr6 B0.
      expectDebugExit(g, 0x1004, 0xffff0ff1, d7);
      expectExit(g, C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xff).toBe(0x43);
    });

    it('USE_HW_BP: an IN within a 4-port breakpoint takes userspace data first, then reports B1', () => {
      const g = realModeGuest(IN_61, opts);
      setCr4(g, CR4_DE);
      const d7 = dr7(1, IO, 3);
      guestDebug(g, HW, [0, 0x60, 0, 0, 0, 0, 0, d7]);
      expectIo(g, 0x61, true);
      g.map[g.run.get('io.data_offset')] = 0x5a;
      expectDebugExit(g, 0x1002, 0xffff0ff2, d7);
      expect(g.regs().get('rax') & 0xff).toBe(0x5a);
      expectExit(g, C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xff).toBe(0x5b);
    });

    it('USE_HW_BP: an OUT the in-kernel 8259 takes exits with KVM_EXIT_DEBUG straight away', () => {
      // mov al,0xff (0x1000); out 0x21,al (0x1002); hlt (0x1004)
      const g = realModeGuest([0xb0, 0xff, 0xe6, 0x21, HLT], {
        ...opts,
        irqchip: true,
        clock: new TestClock(),
      });
      setCr4(g, CR4_DE);
      const d7 = dr7(2, IO, 1); // ports 0x20-0x21
      guestDebug(g, HW, [0, 0, 0x20, 0, 0, 0, 0, d7]);
      expectDebugExit(g, 0x1004, 0xffff0ff4, d7);
      expect(g.host.vcpuRunner(g.vcpufd)!.stats.userspaceExits[C.KVM_EXIT_IO]).toBe(0);
    });

    it('USE_HW_BP: ports outside the breakpoint, or CR4.DE clear, report nothing', () => {
      for (const [port, cr4] of [
        [0x81, CR4_DE],
        [0x80, 0],
      ] as const) {
        const g = realModeGuest(OUT_80, opts);
        setCr4(g, cr4);
        guestDebug(g, HW, [port, 0, 0, 0, 0, 0, 0, dr7(0, IO, 0)]);
        expectIo(g, 0x80, false);
        expectExit(g, C.KVM_EXIT_HLT);
      }
    });

    it('SINGLESTEP with USE_HW_BP: one KVM_EXIT_DEBUG reports BS and B0 for the OUT', () => {
      const g = realModeGuest(OUT_80, opts);
      setCr4(g, CR4_DE);
      const d7 = dr7(0, IO, 0);
      guestDebug(g, HW | STEP, [0x80, 0, 0, 0, 0, 0, 0, d7]);
      expectDebugExit(g, 0x1002, 0xffff4ff0, d7); // mov al,0x42
      expectIo(g, 0x80, false);
      expectDebugExit(g, 0x1004, 0xffff4ff1, d7);
      expectDebugExit(g, 0x1005, 0xffff4ff0, d7); // inc ax
    });

    it('USE_HW_BP turned off before the completing KVM_RUN: the OUT completes without a debug exit', () => {
      const g = realModeGuest(OUT_80, opts);
      setCr4(g, CR4_DE);
      guestDebug(g, HW, [0x80, 0, 0, 0, 0, 0, 0, dr7(0, IO, 0)]);
      expectIo(g, 0x80, false);
      guestDebug(g, 0);
      expectExit(g, C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xff).toBe(0x43);
    });

    it('USE_HW_BP: REP OUTSB stops after each element that meets the breakpoint (KVM_EXIT_IO, then the trap)', () => {
      // mov si,0x1100 (0x1000); mov cx,2 (0x1003); rep outsb to dx=0x80 (0x1009); hlt (0x100b)
      const code = [0xbe, 0x00, 0x11, 0xb9, 0x02, 0x00, 0xba, 0x80, 0x00, 0xf3, 0x6e, HLT];
      const g = realModeGuest(code, opts);
      g.ram.set([0x61, 0x62], 0x1100);
      setCr4(g, CR4_DE);
      const d7 = dr7(3, IO, 0);
      guestDebug(g, HW, [0, 0, 0, 0x80, 0, 0, 0, d7]);
      for (const [byte, pc] of [
        [0x61, 0x1009],
        [0x62, 0x100b],
      ] as const) {
        expectIo(g, 0x80, false);
        expect(g.run.get('io.count')).toBe(1);
        expect(g.map[g.run.get('io.data_offset')]).toBe(byte);
        // The trap comes after the iteration: pc at the REP OUTSB until CX is 0.
        expectDebugExit(g, pc, 0xffff0ff8, d7);
      }
      expectExit(g, C.KVM_EXIT_HLT);
    });

    it('USE_HW_BP: REP INSB takes userspace data, then reports the breakpoint after the instruction', () => {
      // mov di,0x1200 (0x1000); mov cx,2 (0x1003); mov dx,0x80 (0x1006); rep insb (0x1009); hlt (0x100b)
      const code = [0xbf, 0x00, 0x12, 0xb9, 0x02, 0x00, 0xba, 0x80, 0x00, 0xf3, 0x6c, HLT];
      const g = realModeGuest(code, opts);
      setCr4(g, CR4_DE);
      const d7 = dr7(0, IO, 0);
      guestDebug(g, HW, [0x80, 0, 0, 0, 0, 0, 0, d7]);
      expectIo(g, 0x80, true);
      expect(g.run.get('io.count')).toBe(2);
      g.map.set([0x77, 0x78], g.run.get('io.data_offset'));
      expectDebugExit(g, 0x100b, 0xffff0ff1, d7);
      expect([g.ram[0x1200], g.ram[0x1201]]).toEqual([0x77, 0x78]);
      expectExit(g, C.KVM_EXIT_HLT);
    });

    it("the guest's own I/O breakpoint delivers #DB inside the guest after userspace completes the OUT", () => {
      const g = realModeGuest(OUT_80, opts);
      setCr4(g, CR4_DE);
      const dr6 = setGuestDr(g, 0x80, dr7(0, IO, 0));
      ivt(g, 1, [HLT]);
      expectIo(g, 0x80, false);
      // The #DB handler's HLT: the trap came after the OUT (pushed IP 0x1004), DR6.B0 set.
      expectExit(g, C.KVM_EXIT_HLT);
      const r = g.regs();
      expect(r.get('rip')).toBe(HANDLER + 1);
      expect(r.get('rsp')).toBe(0x1fea);
      expect(read16(g, 0x1fea)).toBe(0x1004);
      expect(dr6()).toBe(0xffff0ff1);
    });

    it("the guest's own TF traps after instructions the kernel (CPUID) and userspace (OUT) complete", () => {
      // pushf; pop ax; or ah,1; push ax; popf (TF=1); nop (0x1007); cpuid (0x1008); out 0x80,al (0x100a);
      // out 0x81,al (0x100c). #DB handler: inc si; iret (counts the traps; CPUID leaves SI alone).
      const code = [0x9c, 0x58, 0x80, 0xcc, 0x01, 0x50, 0x9d, NOP, 0x0f, 0xa2, 0xe6, 0x80, 0xe6, 0x81, HLT];
      const g = realModeGuest(code, opts);
      ivt(g, 1, [0x46, IRET]);
      expectIo(g, 0x80, false);
      // Traps so far: after the NOP and after the CPUID the kernel completed.
      expect(g.regs().get('rsi') & 0xffff).toBe(2);
      expectIo(g, 0x81, false);
      // And after the OUT userspace completed: three, each with the next instruction's IP pushed.
      expect(g.regs().get('rsi') & 0xffff).toBe(3);
      expect(g.regs().get('rip')).toBe(0x100c);
    });

    it("the guest's own TF gives way to the VMM's single step over a completed CPUID", () => {
      // pushf; pop ax; or ah,1; push ax; popf (TF=1); cpuid (0x1007); hlt (0x1009). #DB handler: out 0x99,al.
      const g = realModeGuest([0x9c, 0x58, 0x80, 0xcc, 0x01, 0x50, 0x9d, 0x0f, 0xa2, HLT], opts);
      ivt(g, 1, [0xe6, 0x99, HLT]);
      guestDebug(g, STEP);
      // One KVM_EXIT_DEBUG per instruction, the CPUID's too; the guest's handler never runs for it.
      for (const pc of [0x1001, 0x1002, 0x1005, 0x1006, 0x1007, 0x1009]) {
        expectExit(g, C.KVM_EXIT_DEBUG);
        expect(g.run.get('debug.arch.pc')).toBe(pc);
      }
      expect(g.regs().get('rip')).toBe(0x1009);
    });

    it("the guest's own I/O breakpoint on an in-kernel port delivers #DB after the IN", () => {
      // in al,0x21 (0x1000); hlt (0x1002)
      const g = realModeGuest([0xe4, 0x21, HLT], { ...opts, irqchip: true, clock: new TestClock() });
      setCr4(g, CR4_DE);
      const dr6 = setGuestDr(g, 0x21, dr7(0, IO, 0));
      // #DB handler: mov al,0x77; out 0x80,al (a userspace port: the handler ran).
      ivt(g, 1, [0xb0, 0x77, 0xe6, 0x80, HLT]);
      expectIo(g, 0x80, false);
      expect(read16(g, 0x1fea)).toBe(0x1002);
      expect(dr6()).toBe(0xffff0ff1);
    });
  });

  describe(`KVM_GUESTDBG_BLOCKIRQ (ept ${ept ? 'on' : 'off'})`, () => {
    it('KVM_CHECK_EXTENSION(KVM_CAP_SET_GUEST_DEBUG2) is the mask of KVM_SET_GUEST_DEBUG control bits', () => {
      const g = realModeGuest([HLT], opts);
      const mask =
        C.KVM_GUESTDBG_ENABLE |
        C.KVM_GUESTDBG_SINGLESTEP |
        C.KVM_GUESTDBG_USE_SW_BP |
        C.KVM_GUESTDBG_USE_HW_BP |
        C.KVM_GUESTDBG_INJECT_DB |
        C.KVM_GUESTDBG_INJECT_BP |
        C.KVM_GUESTDBG_BLOCKIRQ;
      expect(mask).toBe(0x1f0003);
      const kvm = g.host.open('/dev/kvm');
      expect(g.host.ioctl(kvm, I.KVM_CHECK_EXTENSION, C.KVM_CAP_SET_GUEST_DEBUG2)).toBe(mask);
      expect(g.host.ioctl(g.vmfd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_SET_GUEST_DEBUG2)).toBe(mask);
      // Every bit it names is accepted; one beyond it is not.
      guestDebug(g, mask & ~(C.KVM_GUESTDBG_INJECT_DB | C.KVM_GUESTDBG_INJECT_BP));
      const d = allocStruct(kvm_guest_debug);
      d.set('control', C.KVM_GUESTDBG_ENABLE | 0x00200000);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_GUEST_DEBUG, d.bytes)).toBe(-22);
    });

    it('single steps with BLOCKIRQ stay in the program while an NMI is pending; it is taken once cleared', () => {
      const g = realModeGuest([NOP, NOP, NOP, HLT], opts);
      ivt(g, 2, [NOP, HLT]);
      expect(g.host.ioctl(g.vcpufd, I.KVM_NMI, 0)).toBe(0);
      guestDebug(g, BLOCK);
      expectDebugExit(g, 0x1001, 0xffff4ff0);
      expectDebugExit(g, 0x1002, 0xffff4ff0);
      guestDebug(g, 0);
      expectExit(g, C.KVM_EXIT_HLT);
      expect(g.regs().get('rip')).toBe(HANDLER + 2);
      expect(read16(g, 0x1fea)).toBe(0x1002);
    });

    it('without BLOCKIRQ the same single step lands in the NMI handler', () => {
      const g = realModeGuest([NOP, NOP, NOP, HLT], opts);
      ivt(g, 2, [NOP, HLT]);
      expect(g.host.ioctl(g.vcpufd, I.KVM_NMI, 0)).toBe(0);
      guestDebug(g, STEP);
      expectDebugExit(g, HANDLER + 1, 0xffff4ff0);
    });

    it('an 8259 interrupt raised while single-stepping with BLOCKIRQ stays pending until BLOCKIRQ goes', () => {
      // PIC_INIT; out 0x82,al (sync, 0x1014); sti (0x1016); nop x3 (0x1017..); mov al,0x55; out 0x81,al; hlt
      const code = [...PIC_INIT, 0xe6, 0x82, STI, NOP, NOP, NOP, 0xb0, 0x55, 0xe6, 0x81, HLT];
      const start = (blockIrq: boolean): TestGuest => {
        const g = realModeGuest(code, { ...opts, irqchip: true, clock: new TestClock() });
        // IVT[8]: mov al,0x99; out 0x80,al; iret (no EOI: one interrupt)
        ivt(g, 8, [0xb0, 0x99, 0xe6, 0x80, IRET]);
        expectIo(g, 0x82, false);
        const line = allocStruct(kvm_irq_level);
        line.set('irq', 0);
        line.set('level', 1);
        expect(g.host.ioctl(g.vmfd, I.KVM_IRQ_LINE, line.bytes)).toBe(0);
        guestDebug(g, blockIrq ? BLOCK : STEP);
        expectDebugExit(g, 0x1016, 0xffff4ff0); // the completed OUT
        expectDebugExit(g, 0x1017, 0xffff4ff0); // sti
        return g;
      };
      const g = start(true);
      expectDebugExit(g, 0x1018, 0xffff4ff0);
      expectDebugExit(g, 0x1019, 0xffff4ff0);
      expect(g.host.vcpuRunner(g.vcpufd)!.stats.irqInjections).toBe(0);
      guestDebug(g, 0);
      expectIo(g, 0x80, false);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x99);
      expectIo(g, 0x81, false);
      // Without BLOCKIRQ the steps enter the handler as soon as the STI shadow ends.
      const h = start(false);
      expectDebugExit(h, 0x1018, 0xffff4ff0); // the nop in the STI shadow
      expectDebugExit(h, HANDLER + 2, 0xffff4ff0);
      expect(h.host.vcpuRunner(h.vcpufd)!.stats.irqInjections).toBe(1);
    });
  });

  describe(`#DB traps whose delivery meets an EPT violation (ept ${ept ? 'on' : 'off'})`, () => {
    it("a TF single-step trap is delivered even when its delivery is the IVT page's first touch", () => {
      // pushf; pop ax; or ah,1; push ax; popf (TF on, 0x1006); nop (0x1007); nop (0x1008); hlt
      const g = realModeGuest([0x9c, 0x58, 0x80, 0xcc, 0x01, 0x50, 0x9d, NOP, NOP, HLT], opts);
      ivt(g, 1, [HLT]);
      expectExit(g, C.KVM_EXIT_HLT);
      expect(g.regs().get('rip')).toBe(HANDLER + 1);
      // The trap after the first NOP: IP 0x1008 pushed with TF in the pushed FLAGS.
      expect(g.regs().get('rsp')).toBe(0x1fea);
      expect(read16(g, 0x1fea)).toBe(0x1008);
      expect(read16(g, 0x1fee) & 0x100).toBe(0x100);
      const exits = g.host.vcpuRunner(g.vcpufd)!.stats.exits;
      // With EPT the IVT page was mapped by the EPT violation the delivery met.
      expect(exits[48]! > 0).toBe(ept);
    });

    it("a data breakpoint's #DB is delivered even when its delivery is the IVT page's first touch", () => {
      // mov ax,0x1234 (0x1000); mov [0x1800],ax (0x1003); inc ax (0x1006); hlt
      const g = realModeGuest([0xb8, 0x34, 0x12, 0xa3, 0x00, 0x18, INC_AX, HLT], opts);
      const dr6 = setGuestDr(g, 0x1800, dr7(0, 1, 1));
      ivt(g, 1, [HLT]);
      expectExit(g, C.KVM_EXIT_HLT);
      expect(g.regs().get('rip')).toBe(HANDLER + 1);
      expect(read16(g, 0x1fea)).toBe(0x1006);
      expect(g.regs().get('rax')).toBe(0x1234);
      expect(dr6()).toBe(0xffff0ff1);
    });
  });
}
