import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../monitor/hmp.js';
import { parseCommandLine } from '../options/parse.js';
import { pcMonitorTarget, segmentFlags } from './monitor-target.js';
import { PcMachine } from './pc.js';
import { VcpuLoop } from './vcpu-loop.js';

function setup() {
  const cmd = parseCommandLine(['-m', '16', '-S']);
  if (cmd.action !== 'run') throw new Error('not a run');
  const m = new PcMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock: new ManualClock() },
    new KvmHost(),
  );
  const calls: string[] = [];
  const loop = new VcpuLoop(() => ({ kind: 'continue' }), {
    noReboot: false,
    noShutdown: false,
    reset: () => calls.push('reset'),
  });
  const mon = new Monitor(
    pcMonitorTarget(m, loop, {
      version: '0.1.0',
      threadId: 7,
      quit: () => calls.push('quit'),
      powerdown: () => calls.push('powerdown'),
    }),
  );
  return { m, loop, mon, calls };
}

describe('the monitor on a pc machine', () => {
  it('shows the vCPU reset state in QEMU layout from KVM_GET_REGS/SREGS', () => {
    const { mon } = setup();
    const out = mon.execute('info registers');
    expect(out).toContain('EIP=0000fff0');
    expect(out).toContain('CS =f000 ffff0000 0000ffff 00009b00');
    expect(out).toContain('CR0=60000010');
  });

  it('reports prelaunch with -S, running after cont, paused after stop', () => {
    const { mon } = setup();
    expect(mon.execute('info status')).toBe('VM status: paused (prelaunch)');
    mon.execute('cont');
    expect(mon.execute('info status')).toBe('VM status: running');
    mon.execute('stop');
    expect(mon.execute('info status')).toBe('VM status: paused');
    expect(mon.execute('info kvm')).toBe('kvm support: enabled');
    expect(mon.execute('info cpus')).toBe('* CPU #0: thread_id=7');
  });

  it('dumps guest RAM with xp and, with paging off, with x', () => {
    const { m, mon } = setup();
    m.ram.set([0xde, 0xad, 0xbe, 0xef], 0x1000);
    expect(mon.execute('xp /1xw 0x1000')).toBe('0000000000001000: 0xefbeadde');
    expect(mon.execute('x /2xb 0x1000')).toBe('0000000000001000: 0xde 0xad');
  });

  it('encodes kvm_segment attributes as QEMU descriptor flags', () => {
    expect(
      segmentFlags({
        base: 0n,
        limit: 0xffff,
        selector: 0,
        type: 3,
        present: 1,
        dpl: 0,
        db: 0,
        s: 1,
        l: 0,
        g: 0,
        avl: 0,
        unusable: 0,
      }),
    ).toBe(0x9300);
  });

  it('passes system_reset, system_powerdown and quit to the machine', () => {
    const { mon, calls } = setup();
    mon.execute('system_reset');
    mon.execute('system_powerdown');
    mon.execute('quit');
    expect(calls).toEqual(['reset', 'powerdown', 'quit']);
  });
});
