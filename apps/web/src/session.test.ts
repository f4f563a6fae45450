import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExitAction } from '@typevisor/qemu';
import { describe, expect, it } from 'vitest';
import type { WorkerMessage } from './protocol.js';
import { consoleBytes, countExitsByReason, escapeForMux, type SessionEnv, VmSession } from './session.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/images/default-i386');
const bzImage = new Uint8Array(readFileSync(join(images, 'bzImage')));
const initrd = new Uint8Array(readFileSync(join(images, 'initrd.cpio.gz')));

/** A thread for the session whose timers and deferred work run only when the test says so. */
function manualEnv() {
  const posted: WorkerMessage[] = [];
  const timers = new Map<number, () => void>();
  let next = 1;
  let now = 1000;
  const env: SessionEnv = {
    post: (msg) => posted.push(msg),
    now: () => now,
    defer: (fn) => timers.set(next++, fn),
    setTimer: (fn) => {
      const id = next++;
      timers.set(id, fn);
      return id;
    },
    clearTimer: (h) => timers.delete(h as number),
    threadId: 7,
  };
  const runTimers = (advanceMs: number) => {
    now += advanceMs;
    const due = [...timers.entries()];
    timers.clear();
    for (const [, fn] of due) fn();
  };
  return { env, posted, runTimers, timers };
}

const of = <T extends WorkerMessage['type']>(posted: WorkerMessage[], type: T) =>
  posted.filter((m): m is Extract<WorkerMessage, { type: T }> => m.type === type);

const text = (posted: WorkerMessage[]) =>
  of(posted, 'serial')
    .map((m) => new TextDecoder().decode(m.bytes))
    .join('');

const DEFAULT_ARGS = [
  '-m',
  '64',
  '-S',
  '-kernel',
  'bzImage',
  '-initrd',
  'initrd.cpio.gz',
  '-append',
  'console=ttyS0',
];

describe('the VM worker session', () => {
  it('starts the default guest paused with -S and answers the monitor', () => {
    const { env, posted } = manualEnv();
    const s = new VmSession(env);
    s.handle({ type: 'boot', args: DEFAULT_ARGS, files: { bzImage, 'initrd.cpio.gz': initrd } });
    expect(of(posted, 'error')).toEqual([]);
    expect(of(posted, 'status')[0]).toEqual({ type: 'status', state: 'prelaunch', command: '' });
    s.handle({ type: 'monitor', id: 3, line: 'info status' });
    expect(of(posted, 'monitor')).toEqual([
      { type: 'monitor', id: 3, text: 'VM status: paused (prelaunch)' },
    ]);
    expect(s.monitor('info cpus')).toContain('thread_id=7');
    expect(s.vm?.machine.ram.length).toBe(64 * 2 ** 20);
  });

  it('names a file that is not a kernel with the loader message, and starts nothing', () => {
    const { env, posted } = manualEnv();
    const s = new VmSession(env);
    s.handle({ type: 'boot', args: ['-kernel', 'initrd.cpio.gz'], files: { 'initrd.cpio.gz': initrd } });
    const [err] = of(posted, 'error');
    expect(err?.message).toMatch(/^typevisor: -kernel initrd\.cpio\.gz: not a Linux bzImage: /);
    expect(s.vm).toBeUndefined();
    expect(s.state).toBe('ended');
  });

  it("gives QEMU's error for a bad option and a missing file", () => {
    const a = manualEnv();
    new VmSession(a.env).handle({ type: 'boot', args: ['-m', 'lots'], files: {} });
    expect(of(a.posted, 'error')[0]?.message).toBe("typevisor: -m lots: Parameter 'size' expects a size");
    const b = manualEnv();
    new VmSession(b.env).handle({ type: 'boot', args: ['-kernel', 'vmlinuz'], files: {} });
    expect(of(b.posted, 'error')[0]?.message).toBe('typevisor: -kernel vmlinuz: No such file or directory');
  });

  it('says plainly that an ISO alone needs firmware boot', () => {
    const { env, posted } = manualEnv();
    new VmSession(env).handle({
      type: 'boot',
      args: ['-cdrom', 'd.iso'],
      files: { 'd.iso': new Uint8Array(2048) },
    });
    expect(of(posted, 'error')[0]?.message).toBe(
      'typevisor: no -kernel given (firmware boot is not available yet)',
    );
  });

  it('answers the monitor before a machine exists', () => {
    const { env, posted } = manualEnv();
    new VmSession(env).handle({ type: 'monitor', id: 1, line: 'info status' });
    expect(of(posted, 'monitor')[0]?.text).toBe('no machine is running: boot one first');
  });

  it('samples figures on a timer and ends with a last sample on quit', () => {
    const { env, posted, runTimers, timers } = manualEnv();
    const s = new VmSession(env);
    s.handle({ type: 'boot', args: DEFAULT_ARGS, files: { bzImage, 'initrd.cpio.gz': initrd } });
    expect(of(posted, 'figures')).toHaveLength(1);
    runTimers(500);
    const figures = of(posted, 'figures');
    expect(figures).toHaveLength(2);
    expect(figures[1]).toEqual({
      type: 'figures',
      state: 'prelaunch',
      sample: { t: 1500, exits: 0, byReason: {}, instructions: null },
    });
    s.handle({ type: 'monitor', id: 9, line: 'quit' });
    expect(of(posted, 'exit')).toEqual([{ type: 'exit', status: 0 }]);
    expect(of(posted, 'figures').at(-1)?.state).toBe('ended');
    expect(s.state).toBe('ended');
    expect(timers.size).toBe(0);
    expect(s.monitor('info status')).toBe('the machine has ended: boot it again');
  });

  it('batches console output into one message per flush', () => {
    const { env, posted, runTimers } = manualEnv();
    const s = new VmSession(env);
    s.handle({ type: 'boot', args: DEFAULT_ARGS, files: { bzImage, 'initrd.cpio.gz': initrd } });
    posted.length = 0;
    // The VM's own text goes through the same path as COM1's bytes.
    for (const c of 'hello') s.vm!.machine.io.serialOut.writeByte(c.charCodeAt(0));
    expect(of(posted, 'serial')).toHaveLength(0);
    runTimers(16);
    expect(of(posted, 'serial')).toHaveLength(1);
    expect(text(posted)).toBe('hello');
  });
});

describe('console bytes', () => {
  it('keeps latin-1 strings byte for byte and encodes other text as UTF-8', () => {
    expect([...consoleBytes('A\xe9\r\n')]).toEqual([0x41, 0xe9, 0x0d, 0x0a]);
    expect([...consoleBytes('\u2500')]).toEqual([0xe2, 0x94, 0x80]);
    const raw = new Uint8Array([1, 2]);
    expect(consoleBytes(raw)).toBe(raw);
  });

  it("doubles Ctrl-A so the mux passes it to the guest's serial port", () => {
    expect([...escapeForMux([0x61, 0x01, 0x63, 0x01])]).toEqual([0x61, 0x01, 0x01, 0x63, 0x01, 0x01]);
    expect([...escapeForMux([])]).toEqual([]);
  });
});

describe('exit counting', () => {
  it('counts each exit by the kind the facade decodes, and not a failed KVM_RUN', () => {
    const kinds = ['IoOut', 'IoOut', 'Hlt'];
    let i = 0;
    let current = 'Unknown';
    const actions: ExitAction[] = [
      { kind: 'continue' },
      { kind: 'continue' },
      { kind: 'wait-for-interrupt' },
      { kind: 'error', message: 'KVM_RUN failed with errno 22' },
    ];
    const machine = {
      runOnce(): ExitAction {
        current = kinds[i] ?? 'Unknown';
        return actions[i++]!;
      },
      vcpu: { exit: () => ({ kind: current }) },
    };
    const counts = countExitsByReason(machine);
    for (let n = 0; n < 4; n++) machine.runOnce();
    expect(counts).toEqual({ IoOut: 2, Hlt: 1 });
  });
});
