import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { WorkerMessage } from './protocol.js';
import { consoleBytes, escapeForMux, type SessionEnv, VmSession } from './session.js';

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

  it('says plainly that an ISO alone needs a firmware image (or -bios, or -kernel)', () => {
    const { env, posted } = manualEnv();
    new VmSession(env).handle({
      type: 'boot',
      args: ['-cdrom', 'd.iso'],
      files: { 'd.iso': new Uint8Array(2048) },
    });
    expect(of(posted, 'error')[0]?.message).toBe(
      'typevisor: no -kernel given and no firmware at /usr/share/seabios/bios-256k.bin (apt-get install seabios, or give -bios or -kernel)',
    );
  });

  it('names a -bios file the page did not send, and refuses a BIOS image of a bad size, starting nothing', () => {
    const a = manualEnv();
    const iso = new Uint8Array(2048);
    new VmSession(a.env).handle({
      type: 'boot',
      args: ['-cdrom', 'd.iso', '-bios', 'bios-256k.bin', '-boot', 'order=d'],
      files: { 'd.iso': iso },
    });
    expect(of(a.posted, 'error').map((m) => m.message)).toEqual([
      'typevisor: -bios bios-256k.bin: No such file or directory',
    ]);
    const b = manualEnv();
    const s = new VmSession(b.env);
    s.handle({
      type: 'boot',
      args: ['-cdrom', 'd.iso', '-bios', 'odd.bin'],
      files: { 'd.iso': iso, 'odd.bin': new Uint8Array(65536 + 512) },
    });
    expect(of(b.posted, 'error')[0]?.message).toBe(
      'typevisor: -bios odd.bin: the image is 66048 bytes, not a whole number of 64 KiB blocks',
    );
    expect(s.vm).toBeUndefined();
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

describe('the VGA canvas', () => {
  it("draws the pc machine's VGA text screen on the page's canvas, and stops with the machine", () => {
    const { env, posted, runTimers, timers } = manualEnv();
    const puts: ImageData[] = [];
    const canvas = {
      width: 300,
      height: 150,
      getContext: () => ({ putImageData: (i: ImageData) => puts.push(i) }),
    };
    const s = new VmSession({
      ...env,
      imageData: (data, width, height) => ({ data, width, height }) as unknown as ImageData,
    });
    s.handle({
      type: 'boot',
      args: DEFAULT_ARGS,
      files: { bzImage, 'initrd.cpio.gz': initrd },
      screen: canvas as unknown as OffscreenCanvas,
    });
    expect(of(posted, 'error')).toEqual([]);
    expect(puts).toHaveLength(1);
    expect([canvas.width, canvas.height]).toEqual([720, 400]);
    // The boot banner is on screen: some pixels of the first text row are lit.
    const row0 = puts[0]!.data.subarray(0, 720 * 16 * 4);
    expect(row0.some((v, i) => i % 4 !== 3 && v > 0)).toBe(true);
    runTimers(40);
    expect(puts).toHaveLength(1); // nothing changed: nothing drawn
    s.handle({ type: 'monitor', id: 1, line: 'quit' });
    expect(timers.size).toBe(0);
  });

  it('has no VGA with -nographic, so nothing is drawn', () => {
    const { env } = manualEnv();
    const puts: ImageData[] = [];
    const canvas = {
      width: 300,
      height: 150,
      getContext: () => ({ putImageData: (i: ImageData) => puts.push(i) }),
    };
    const s = new VmSession(env);
    s.handle({
      type: 'boot',
      args: [...DEFAULT_ARGS, '-nographic'],
      files: { bzImage, 'initrd.cpio.gz': initrd },
      screen: canvas as unknown as OffscreenCanvas,
    });
    expect(s.screen).toBeUndefined();
    expect(puts).toEqual([]);
  });
});

describe('figures of a running guest', () => {
  it('counts guest instructions (the vCPU stats) and exits by kind once the guest runs', () => {
    const { env, timers } = manualEnv();
    // Slices end on host time: this test's clock is the real one.
    const s = new VmSession({ ...env, now: () => performance.now() });
    s.handle({ type: 'boot', args: DEFAULT_ARGS, files: { bzImage, 'initrd.cpio.gz': initrd } });
    expect(s.sample().instructions).toBeNull(); // the vCPU has not run yet
    s.handle({ type: 'monitor', id: 1, line: 'cont' });
    for (let i = 0; i < 3; i++) {
      const due = [...timers.entries()];
      timers.clear();
      for (const [, fn] of due) fn();
    }
    const sample = s.sample();
    expect(sample.instructions).toBeGreaterThan(100_000);
    expect(sample.exits).toBeGreaterThan(0);
    const byReason = Object.values(sample.byReason).reduce((a, b) => a + b, 0);
    expect(byReason).toBeLessThanOrEqual(sample.exits);
    s.handle({ type: 'monitor', id: 2, line: 'quit' });
  });

  it('pauses, resumes and resets a running guest as the page controls do (stop, cont, system_reset)', () => {
    const { env, posted, timers } = manualEnv();
    const s = new VmSession({ ...env, now: () => performance.now() });
    const runDeferred = () => {
      const due = [...timers.entries()];
      timers.clear();
      for (const [, fn] of due) fn();
    };
    s.handle({ type: 'boot', args: DEFAULT_ARGS, files: { bzImage, 'initrd.cpio.gz': initrd } });
    s.monitor('cont');
    runDeferred();
    expect(s.state).toBe('running');
    s.monitor('stop');
    expect(s.state).toBe('paused');
    const paused = s.sample().instructions!;
    runDeferred();
    runDeferred();
    expect(s.sample().instructions).toBe(paused); // a paused guest runs nothing
    s.monitor('cont');
    runDeferred();
    expect(s.state).toBe('running');
    expect(s.sample().instructions).toBeGreaterThan(paused);
    // system_reset reloads the kernel: the vCPU is back at the 32-bit entry and runs on.
    s.monitor('stop');
    s.monitor('system_reset');
    const rip = s.vm!.machine.vcpu.getRegs().rip;
    expect(rip).toBe(0x100000n); // the bzImage's code32_start
    expect(of(posted, 'status').map((m) => m.command)).toEqual(
      expect.arrayContaining(['stop', 'cont', 'system_reset']),
    );
    s.monitor('quit');
  });
});
