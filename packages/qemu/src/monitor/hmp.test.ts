import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Monitor, type MonitorTarget, type VmStatus } from './hmp.js';
import type { CpuSnapshot, SegmentSnapshot } from './snapshot.js';

const golden = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../testdata/monitor-golden.json'), 'utf8'),
) as { session: [string, string][] };

/** The 64 bytes QEMU showed at 0xfffc0 (first command of the recorded session). */
function recordedBios(): Map<number, number> {
  const [cmd, text] = golden.session[0]!;
  expect(cmd).toBe('xp /64xb 0xfffc0');
  const mem = new Map<number, number>();
  for (const line of text.split('\n')) {
    const [addr, ...bytes] = line.split(/:? /);
    for (const [i, b] of bytes.entries()) mem.set(Number.parseInt(addr!, 16) + i, Number.parseInt(b, 16));
  }
  return mem;
}

const seg = (selector: number, base: number, limit: number, flags: number): SegmentSnapshot => ({
  selector,
  base,
  limit,
  flags,
});

/** The x86 reset state, as QEMU's TCG CPU has it at -S (family 6 "qemu64": EDX = 0x60fb1). */
const RESET_CPU: CpuSnapshot = {
  index: 0,
  gprs: [0, 0, 0x00060fb1, 0, 0, 0, 0, 0],
  rip: 0xfff0,
  rflags: 0x2,
  cpl: 0,
  halted: false,
  a20: true,
  longMode: false,
  seg: {
    es: seg(0, 0, 0xffff, 0x9300),
    cs: seg(0xf000, 0xffff0000, 0xffff, 0x9b00),
    ss: seg(0, 0, 0xffff, 0x9300),
    ds: seg(0, 0, 0xffff, 0x9300),
    fs: seg(0, 0, 0xffff, 0x9300),
    gs: seg(0, 0, 0xffff, 0x9300),
    ldt: seg(0, 0, 0xffff, 0x8200),
    tr: seg(0, 0, 0xffff, 0x8b00),
  },
  gdt: { base: 0, limit: 0xffff },
  idt: { base: 0, limit: 0xffff },
  cr: { cr0: 0x60000010, cr2: 0, cr3: 0, cr4: 0 },
  dr: [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400],
  efer: 0,
  fpu: { fcw: 0x37f, fsw: 0, ftw: 0, mxcsr: 0x1f80 },
  fpr: [],
  xmm: [],
};

function fakeTarget(mem: Map<number, number>) {
  const calls: string[] = [];
  let status: VmStatus = 'prelaunch';
  const read = (a: number, n: number) => Uint8Array.from({ length: n }, (_, i) => mem.get(a + i) ?? 0);
  const target: MonitorTarget = {
    version: '0.1.0',
    kvmEnabled: false, // the recording was made with TCG
    status: () => status,
    stop: () => {
      calls.push('stop');
      if (status === 'running') status = 'paused'; // as QEMU: stop in prelaunch stays prelaunch
    },
    cont: () => {
      calls.push('cont');
      status = 'running';
    },
    reset: () => calls.push('reset'),
    powerdown: () => calls.push('powerdown'),
    quit: () => calls.push('quit'),
    cpus: () => [RESET_CPU],
    cpuThreadId: () => 1234,
    readPhysical: read,
    readVirtual: (_cpu, a, n) => read(a, n), // paging off: linear = physical
    info: {},
  };
  return { target, calls };
}

describe('HMP monitor', () => {
  it('prints what QEMU printed for the same commands on the same memory (golden session)', () => {
    const { target } = fakeTarget(recordedBios());
    const mon = new Monitor(target);
    // QEMU's full info list is longer than ours; machine-provided info commands: monitor/info.test.ts.
    const skip = new Set(['info', 'help cont', 'help xp', 'info pic', 'info irq', 'info pci', 'info mtree']);
    let compared = 0;
    for (const [cmd, want] of golden.session) {
      if (skip.has(cmd)) continue;
      expect({ cmd, out: mon.execute(cmd) }).toEqual({ cmd, out: want });
      compared++;
    }
    expect(compared).toBeGreaterThan(25);
  });

  it('formats help lines as QEMU does', () => {
    const mon = new Monitor(fakeTarget(new Map()).target);
    const want = new Map(golden.session);
    expect(mon.execute('help cont')).toBe(want.get('help cont'));
    expect(mon.execute('help xp')).toBe(want.get('help xp'));
  });

  it('reports KVM as enabled when the facade is the accelerator', () => {
    const { target } = fakeTarget(new Map());
    expect(new Monitor({ ...target, kvmEnabled: true }).execute('info kvm')).toBe('kvm support: enabled');
  });

  it('drives the machine with stop, cont, system_reset, system_powerdown and quit', () => {
    const { target, calls } = fakeTarget(new Map());
    const mon = new Monitor(target);
    for (const c of ['stop', 'c', 'system_reset', 'system_powerdown', 'q']) expect(mon.execute(c)).toBe('');
    expect(calls).toEqual(['stop', 'cont', 'reset', 'powerdown', 'quit']);
  });

  it('evaluates register expressions in addresses', () => {
    const mem = new Map<number, number>([[0x10ff0 + 2, 0xab]]);
    const mon = new Monitor(fakeTarget(mem).target);
    expect(mon.execute('xp /1xb $eip + 0x1002')).toBe('0000000000010ff2: 0xab');
    expect(mon.execute('xp /1xb $bogus')).toBe(
      'unknown register \'bogus\'\nTry "help xp" for more information',
    );
  });

  it('says when virtual memory cannot be read', () => {
    const { target } = fakeTarget(new Map());
    const mon = new Monitor({ ...target, readVirtual: () => undefined });
    expect(mon.execute('x /4xw 0xc0000000')).toBe('Cannot access memory');
  });

  it('lists machine-provided info subcommands and runs them', () => {
    const { target } = fakeTarget(new Map());
    const mon = new Monitor({
      ...target,
      info: { pic: { help: 'show PIC state', run: () => 'pic0: irr=00' } },
    });
    expect(mon.execute('info pic')).toBe('pic0: irr=00');
    expect(mon.execute('info')).toContain('info pic  -- show PIC state');
    expect(mon.execute('info nothing')).toBe("unknown command: 'info nothing'");
  });
});
