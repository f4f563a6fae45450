import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvmHost } from '@typevisor/kvm';
import { ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './options/parse.js';
import { VirtualMachine, type VmHost, VmStartError } from './vm.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/images/default-i386');

function host() {
  let out = '';
  const queue: (() => void)[] = [];
  const status: number[] = [];
  const h: VmHost = {
    readFile: (p) => {
      try {
        return new Uint8Array(readFileSync(p));
      } catch {
        throw new VmStartError(`${p}: No such file or directory`);
      }
    },
    write: (d) => {
      out += typeof d === 'string' ? d : new TextDecoder().decode(d);
    },
    exit: (s) => status.push(s),
    clock: new ManualClock(),
    threadId: 1,
    defer: (fn) => queue.push(fn),
    setTimer: (fn) => queue.push(fn),
    kvmHost: new KvmHost(),
  };
  const drain = (max = 100) => {
    for (let i = 0; i < max && queue.length > 0; i++) queue.shift()!();
  };
  return { h, out: () => out, status, drain };
}

function config(args: string[]) {
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  return cmd.config;
}

const kernelArgs = [
  '-m',
  '32',
  '-kernel',
  join(images, 'bzImage'),
  '-initrd',
  join(images, 'initrd.cpio.gz'),
  '-append',
  'console=ttyS0',
];

describe('VirtualMachine', () => {
  it('starts paused with -S and answers the monitor through C-a c', () => {
    const t = host();
    const vm = new VirtualMachine(config([...kernelArgs, '-S', '-nographic']), t.h);
    vm.start();
    t.drain();
    vm.input([...'\x01cinfo status\r'].map((c) => c.charCodeAt(0)));
    expect(t.out()).toContain('VM status: paused (prelaunch)');
    expect(t.status).toEqual([]);
  });

  it('keeps typed text the serial FIFO has no room for until the guest reads it (no loss on paste)', () => {
    const t = host();
    const vm = new VirtualMachine(config([...kernelArgs, '-S', '-nographic']), t.h);
    vm.start();
    const com1 = vm.machine.com1;
    com1.write(2, 1, 0x01); // FCR: FIFOs on (the guest's driver does this), 16 bytes of room
    const text = 'echo a line much longer than the 16-byte receive FIFO of the 16550A\r';
    vm.input([...text].map((c) => c.charCodeAt(0)));
    expect(vm.serialIn.pending).toBe(text.length - 16);
    let got = '';
    for (let i = 0; i < text.length + 4; i++) {
      if (com1.read(5, 1) & 1) got += String.fromCharCode(com1.read(0, 1)); // LSR.DR, then RBR
    }
    expect(got).toBe(text);
    expect(vm.serialIn.pending).toBe(0);
  });

  it('quits on C-a x', () => {
    const t = host();
    const vm = new VirtualMachine(config([...kernelArgs, '-S']), t.h);
    vm.start();
    vm.input([1, 'x'.charCodeAt(0)]);
    expect(t.status).toEqual([0]);
  });

  it('without -kernel boots firmware, and names the seabios package when the default BIOS is missing', () => {
    const t = host();
    const noBios: VmHost = {
      ...t.h,
      readFile: (p) => {
        if (p === '/usr/share/seabios/bios-256k.bin')
          throw new VmStartError(`${p}: No such file or directory`);
        return t.h.readFile(p);
      },
    };
    expect(() => new VirtualMachine(config(['-m', '32']), noBios)).toThrow(
      'no -kernel given and no firmware at /usr/share/seabios/bios-256k.bin (apt-get install seabios, or give -bios or -kernel)',
    );
    expect(() => new VirtualMachine(config(['-M', 'microvm']), t.h)).toThrow(
      '-machine microvm needs -kernel (it has no firmware)',
    );
    const odd: VmHost = { ...t.h, readFile: () => new Uint8Array(1000) };
    expect(() => new VirtualMachine(config(['-bios', 'odd.bin']), odd)).toThrow(
      '-bios odd.bin: the image is 1000 bytes, not a whole number of 64 KiB blocks',
    );
  });

  it('warns that -smp 2 gives the guest one vCPU, and tells the firmware tables 1', () => {
    const t = host();
    const vm = new VirtualMachine(config([...kernelArgs, '-smp', '2', '-S', '-nographic']), t.h);
    expect(vm.warnings).toEqual(['-smp 2: SMP guests are not supported yet; the guest gets 1 vCPU']);
    expect(vm.config.smp).toBe(1);
    // CMOS 0x5F (QEMU's "number of CPUs - 1") says one CPU.
    expect(vm.machine.rtc.getCmos(0x5f)).toBe(0);
  });

  it('names an unreadable kernel file', () => {
    expect(() => new VirtualMachine(config(['-kernel', '/nonexistent']), host().h)).toThrow(
      '/nonexistent: No such file',
    );
  });

  it('names a file that is not a kernel', () => {
    expect(() => new VirtualMachine(config(['-kernel', join(images, 'initrd.cpio.gz')]), host().h)).toThrow(
      /-kernel .*initrd.cpio.gz: not a Linux bzImage/,
    );
  });

  it('puts each -serial on its port and -debugcon on 0xE9, through the host backends', () => {
    const t = host();
    const written = new Map<string, string>();
    const inputs = new Map<string, (b: Uint8Array) => void>();
    const closed: string[] = [];
    const h: VmHost = {
      ...t.h,
      openChardev: (backend, onInput) => {
        const name = backend.kind === 'file' ? backend.path : backend.kind;
        written.set(name, '');
        inputs.set(name, onInput);
        return {
          chardev: {
            write: (b) => written.set(name, written.get(name)! + String.fromCharCode(...b)),
            close: () => closed.push(name),
          },
          ready: Promise.resolve(),
        };
      },
    };
    const vm = new VirtualMachine(
      config([...kernelArgs, '-S', '-serial', 'file:com1', '-serial', 'file:com2', '-debugcon', 'file:dbg']),
      h,
    );
    const pio = vm.machine.pio;
    for (const c of 'one') pio.write(0x3f8, 1, c.charCodeAt(0));
    for (const c of 'two') pio.write(0x2f8, 1, c.charCodeAt(0));
    for (const c of 'dbg') pio.write(0xe9, 1, c.charCodeAt(0));
    expect(pio.read(0xe9, 1)).toBe(0xe9); // how guests detect the debug console
    expect(Object.fromEntries(written)).toEqual({ com1: 'one', com2: 'two', dbg: 'dbg' });
    expect(t.out()).toBe(''); // nothing of the serial ports reaches the terminal
    // Bytes from COM2's backend reach COM2's receiver; typed terminal input does not go to COM1.
    inputs.get('com2')!(new Uint8Array([0x41]));
    vm.input([0x42]);
    expect(pio.read(0x2f8 + 5, 1) & 1).toBe(1);
    expect(pio.read(0x2f8, 1)).toBe(0x41);
    expect(pio.read(0x3f8 + 5, 1) & 1).toBe(0);
    vm.end(0);
    expect(closed.sort()).toEqual(['com1', 'com2', 'dbg']);
  });

  it('refuses stdio for two character devices and a backend the host cannot open', () => {
    const t = host();
    expect(
      () => new VirtualMachine(config([...kernelArgs, '-serial', 'stdio', '-debugcon', 'stdio']), t.h),
    ).toThrow('cannot use stdio by multiple character devices');
    expect(() => new VirtualMachine(config([...kernelArgs, '-serial', 'file:x']), t.h)).toThrow(
      '-serial file:x: this host has no such backend',
    );
    const failing: VmHost = {
      ...t.h,
      openChardev: () => {
        throw new Error("Could not open 'x': Permission denied");
      },
    };
    expect(() => new VirtualMachine(config([...kernelArgs, '-debugcon', 'file:x']), failing)).toThrow(
      "-debugcon file:x: Could not open 'x': Permission denied",
    );
  });
});
