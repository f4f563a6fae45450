import { describe, expect, it } from 'vitest';
import { real16 } from '../test/machine.js';
import type { Cpu, CpuEvents } from './cpu.js';
import { CpuExit } from './exit.js';
import { EventKind } from './interrupts.js';
import { interceptSoftwareEvent, isSoftwareException } from './software-exceptions.js';

/** Real-mode IVT entries 3 and 4 point at a handler that sets BX = 0xbeef and returns. */
const HANDLER = 0x3000;

/** A listener that stops INT3/INTO (what a VMM's exception bitmap does for vectors 3 and 4). */
function interceptor(): { events: CpuEvents; cpu: Cpu | null; seen: number[] } {
  const state = {
    cpu: null as Cpu | null,
    seen: [] as number[],
    events: {
      delivered(kind: EventKind, vector: number): void {
        if (kind !== EventKind.Software || !isSoftwareException(state.cpu!, vector)) return;
        state.seen.push(vector);
        interceptSoftwareEvent();
      },
    },
  };
  return state;
}

function machine(source: string) {
  const l = interceptor();
  const m = real16(source, { events: l.events });
  l.cpu = m.cpu;
  m.ram.set([0xbb, 0xef, 0xbe, 0xcf], HANDLER); // mov bx, 0xbeef; iret
  for (const v of [3, 4]) m.ram.set([HANDLER & 0xff, HANDLER >> 8, 0, 0], v * 4);
  return { m, l };
}

describe('software exceptions seen by CpuEvents.delivered', () => {
  it('INT3 stops before it executes: EIP at the INT3, nothing pushed, Intercept', () => {
    const { m, l } = machine('inc ax\nint3\ninc ax\nhlt');
    const sp = m.cpu.regs.r16[8];
    expect(m.run()).toBe(CpuExit.Intercept);
    expect(l.seen).toEqual([3]);
    expect(m.cpu.regs.ip).toBe(0x1001);
    expect(m.cpu.regs.r16[8]).toBe(sp);
    expect(m.cpu.regs.r16[0]).toBe(1);
    expect(m.cpu.regs.u32[3]! & 0xffff).toBe(0);
  });

  it('INTO with OF set stops the same way', () => {
    const { m, l } = machine('mov al, 0x7f\nadd al, 1\ninto\nhlt');
    expect(m.run()).toBe(CpuExit.Intercept);
    expect(l.seen).toEqual([4]);
    expect(m.cpu.regs.ip).toBe(0x1004);
  });

  it('INT 3 (CD 03) is a software interrupt, not an exception: delivered to the guest', () => {
    const { m, l } = machine('int 3\nhlt');
    expect(m.run()).toBe(CpuExit.Hlt);
    expect(l.seen).toEqual([]);
    expect(m.cpu.regs.u32[3]! & 0xffff).toBe(0xbeef);
  });
});
