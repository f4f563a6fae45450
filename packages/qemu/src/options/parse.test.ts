import { describe, expect, it } from 'vitest';
import { CommandLineError, helpText, parseCharBackend, parseCommandLine } from './parse.js';

function run(args: string) {
  const cmd = parseCommandLine(args.split(' ').filter(Boolean));
  if (cmd.action !== 'run') throw new Error(`expected run, got ${cmd.action}`);
  return cmd.config;
}

function error(args: readonly string[]): string {
  try {
    parseCommandLine(args);
  } catch (e) {
    expect(e).toBeInstanceOf(CommandLineError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseCommandLine', () => {
  it('reads the command line a QEMU user types for a direct Linux boot', () => {
    const c = parseCommandLine([
      '-M',
      'pc,accel=kvm',
      '-accel',
      'kvm,ept=off',
      '-cpu',
      'max,+vmx,-sse4.2,pdpe1gb=on',
      '-m',
      '256',
      '-kernel',
      'bzImage',
      '-initrd',
      'initrd.cpio.gz',
      '-append',
      'console=ttyS0 bench=1',
      '-nographic',
      '-no-reboot',
    ]);
    expect(c.action).toBe('run');
    if (c.action !== 'run') return;
    expect(c.config.machine).toBe('pc');
    expect(c.config.ept).toBe(false);
    expect(c.config.cpu.model).toBe('max');
    expect([...c.config.cpu.features]).toEqual([
      ['vmx', true],
      ['sse4.2', false],
      ['pdpe1gb', true],
    ]);
    expect(c.config.memoryBytes).toBe(256 * 2 ** 20);
    expect(c.config.append).toBe('console=ttyS0 bench=1');
    expect(c.config.nographic).toBe(true);
    expect(c.config.noReboot).toBe(true);
  });

  it('takes memory sizes with units, the default unit being MiB', () => {
    expect(run('-m 1G').memoryBytes).toBe(2 ** 30);
    expect(run('-m size=512M').memoryBytes).toBe(512 * 2 ** 20);
    expect(run('').memoryBytes).toBe(128 * 2 ** 20);
  });

  it('parses drives, with ,, escaping a comma in a file name', () => {
    const c = run('-drive file=a,,b.img,if=virtio,format=raw,readonly=on,id=d0 -cdrom x.iso -hda disk.img');
    expect(c.drives[0]).toEqual({
      file: 'a,b.img',
      interface: 'virtio',
      media: 'disk',
      format: 'raw',
      readonly: true,
      snapshot: false,
      id: 'd0',
      index: undefined,
    });
    expect(c.drives[1]).toMatchObject({
      file: 'x.iso',
      interface: 'ide',
      media: 'cdrom',
      readonly: true,
      index: 2,
    });
    expect(c.drives[2]).toMatchObject({ file: 'disk.img', interface: 'ide', media: 'disk', index: 0 });
  });

  it('parses devices and netdevs with their properties', () => {
    const c = run('-device virtio-net-pci,netdev=n0 -netdev socket,id=n0,listen=:1234');
    expect(c.devices[0]!.driver).toBe('virtio-net-pci');
    expect(c.devices[0]!.props.get('netdev')).toBe('n0');
    expect(c.netdevs[0]).toMatchObject({ type: 'socket', id: 'n0' });
    expect(c.netdevs[0]!.props.get('listen')).toBe(':1234');
  });

  it('answers -version and -h without running', () => {
    expect(parseCommandLine(['-version'])).toEqual({ action: 'version' });
    expect(parseCommandLine(['-h'])).toEqual({ action: 'help' });
    expect(parseCommandLine(['--help'])).toEqual({ action: 'help' });
    expect(helpText('typevisor')).toContain('-kernel file');
  });

  it('-machine help and -M ? list pc and microvm as QEMU does, without running', () => {
    for (const args of [
      ['-machine', 'help'],
      ['-M', '?'],
      ['-machine', 'type=help'],
    ]) {
      const cmd = parseCommandLine(args);
      if (cmd.action !== 'list') throw new Error(`${args.join(' ')}: not a listing`);
      expect(cmd.text).toBe(
        'Supported machines are:\nmicrovm              microvm (i386)\npc                   Standard PC (i440FX + PIIX, 1996)',
      );
    }
  });

  it('-device help lists the models the chosen machine accepts, grouped by QEMU category', () => {
    const pc = parseCommandLine(['-device', 'help']);
    const micro = parseCommandLine(['-M', 'microvm', '-device', '?']);
    if (pc.action !== 'list' || micro.action !== 'list') throw new Error('not a listing');
    expect(pc.text).toContain('Storage devices:\nname "virtio-blk-pci", bus PCI');
    expect(pc.text).toContain('Network devices:\nname "virtio-net-pci", bus PCI');
    expect(pc.text).not.toContain('virtio-blk-device');
    expect(micro.text).toContain('Storage devices:\nname "virtio-blk-device", bus virtio-bus');
    expect(micro.text).toContain('name "virtconsole", bus virtio-serial-bus');
  });

  it('-machine kernel_irqchip=on|off sets the irqchip; split is refused naming the facade', () => {
    expect(run('').kernelIrqchip).toBe(false);
    expect(run('-machine kernel_irqchip=on').kernelIrqchip).toBe(true);
    expect(run('-machine pc,accel=kvm,kernel_irqchip=on').kernelIrqchip).toBe(true);
    expect(run('-machine pc,kernel_irqchip=off').kernelIrqchip).toBe(false);
    expect(error(['-machine', 'kernel_irqchip=split'])).toBe(
      '-machine kernel_irqchip=split: kernel_irqchip=split is not available: the KVM facade has no split irqchip (use on or off)',
    );
    expect(error(['-machine', 'kernel_irqchip=maybe'])).toBe(
      "-machine kernel_irqchip=maybe: Parameter 'kernel_irqchip' expects 'on' or 'off'",
    );
  });

  it('names an unknown option', () => {
    expect(error(['-frobnicate'])).toBe('-frobnicate: invalid option');
  });

  it('reads vcpu-thread=on|off of -accel kvm, and leaves it unset without it (one vCPU then runs on the VMM thread)', () => {
    const run = (args: string[]) => {
      const c = parseCommandLine(args);
      if (c.action !== 'run') throw new Error('not a run');
      return c.config.vcpuThread;
    };
    expect(run(['-accel', 'kvm,vcpu-thread=on'])).toBe(true);
    expect(run(['-accel', 'kvm,ept=off,vcpu-thread=off'])).toBe(false);
    expect(run(['-enable-kvm'])).toBeUndefined();
  });

  it('names an option whose argument is missing', () => {
    expect(error(['-m'])).toBe('-m: requires an argument');
  });

  it('names the malformed value and what was expected', () => {
    expect(error(['-m', 'lots'])).toBe("-m lots: Parameter 'size' expects a size");
    expect(error(['-accel', 'kvm,ept=maybe'])).toBe(
      "-accel kvm,ept=maybe: Parameter 'ept' expects 'on' or 'off'",
    );
    expect(error(['-accel', 'tcg'])).toContain('invalid accelerator tcg');
    expect(error(['-accel', 'kvm,vcpu-thread=2'])).toBe(
      "-accel kvm,vcpu-thread=2: Parameter 'vcpu-thread' expects 'on' or 'off'",
    );
    expect(error(['-M', 'q35'])).toContain("unsupported machine type 'q35'");
    expect(error(['-drive', 'if=virtio'])).toContain("parameter 'file' is missing");
    expect(error(['-drive', 'file=x,format=qcow2'])).toContain("Unknown driver 'qcow2'");
    expect(error(['-drive', 'file=x,bogus=1'])).toContain("Invalid parameter 'bogus'");
    expect(error(['-d', 'int,nonsense'])).toContain("unknown log item 'nonsense'");
    expect(error(['-smp', '0'])).toContain('Invalid CPU count');
  });

  it('rejects combinations QEMU rejects', () => {
    expect(error(['-initrd', 'x'])).toBe('-initrd: only allowed with -kernel');
    expect(error(['-M', 'microvm', '-hda', 'd.img'])).toContain('microvm has no IDE controller');
  });

  it('rejects a stray argument that is not an option', () => {
    expect(error(['disk.img'])).toContain('disk.img: invalid option');
  });
});

describe('-serial and -debugcon', () => {
  it('gives each -serial the next port and -debugcon its own backend', () => {
    const c = run(
      '-kernel k -serial null -serial file:/tmp/com2 -serial tcp::4444,server,nowait -debugcon file:/tmp/dbg',
    );
    expect(c.serial.map((b) => b.kind)).toEqual(['null', 'file', 'tcp']);
    expect(c.debugcon).toEqual({ kind: 'file', path: '/tmp/dbg' });
    expect(run('-kernel k').debugcon).toBeUndefined();
  });

  it('refuses a fifth serial port and a backend it does not know, naming it', () => {
    expect(error(['-kernel', 'k', ...Array(5).fill(['-serial', 'null']).flat()])).toContain(
      'too many serial ports',
    );
    expect(error(['-kernel', 'k', '-debugcon', 'pty'])).toContain("'pty' is not a valid char driver");
  });
});

describe('parseCharBackend', () => {
  it('reads the serial and monitor backends QEMU users type', () => {
    expect(parseCharBackend('stdio')).toEqual({ kind: 'stdio' });
    expect(parseCharBackend('file:/tmp/s.log')).toEqual({ kind: 'file', path: '/tmp/s.log' });
    expect(parseCharBackend('tcp:127.0.0.1:4444,server,nowait')).toEqual({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 4444,
      server: true,
      wait: false,
    });
    expect(parseCharBackend('tcp::5555,server=on,wait=off')).toMatchObject({
      host: '127.0.0.1',
      port: 5555,
      server: true,
      wait: false,
    });
    expect(parseCharBackend('unix:/tmp/mon.sock,server')).toMatchObject({
      kind: 'unix',
      path: '/tmp/mon.sock',
      server: true,
      wait: true,
    });
  });

  it('reads a client-mode socket with no flags', () => {
    expect(parseCharBackend('tcp:localhost:4444')).toEqual({
      kind: 'tcp',
      host: 'localhost',
      port: 4444,
      server: false,
      wait: true,
    });
  });

  it('rejects an unknown backend', () => {
    expect(() => parseCharBackend('pty')).toThrow(/not a valid char driver/);
    expect(() => parseCharBackend('tcp:host:99999')).toThrow(/invalid port/);
  });
});
