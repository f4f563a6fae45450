import { describe, expect, it } from 'vitest';
import { CommandLineError, parseCommandLine } from './parse.js';
import { planVirtio } from './virtio-plan.js';

function plan(args: readonly string[]) {
  const cmd = parseCommandLine(args);
  if (cmd.action !== 'run') throw new Error('not a run');
  return planVirtio(cmd.config);
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

describe('virtio options', () => {
  it('turns -drive if=virtio and -device virtio-*-pci into devices, drives first, in order', () => {
    const specs = plan([
      '-device',
      'virtio-rng-pci',
      '-drive',
      'file=a.img,if=none,id=d0,format=raw',
      '-device',
      'virtio-blk-pci,drive=d0,serial=S1,queue-size=128,addr=0x5',
      '-drive',
      'file=b.img,if=virtio,readonly=on',
      '-netdev',
      'socket,id=n0,listen=:1234',
      '-device',
      'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02,packed=on',
    ]);
    expect(specs.map((s) => s.kind)).toEqual(['blk', 'rng', 'blk', 'net']);
    const [b, , d0, net] = specs;
    expect(b).toMatchObject({ kind: 'blk', drive: { file: 'b.img', readonly: true }, snapshot: false });
    expect(d0).toMatchObject({ kind: 'blk', serial: 'S1', queueSize: 128, slot: 5, discard: true });
    expect(net).toMatchObject({ kind: 'net', mac: '52:54:00:00:00:02', ring: { packed: true } });
  });

  it('-snapshot puts every writable virtio drive on an overlay', () => {
    const [rw, ro] = plan([
      '-snapshot',
      '-drive',
      'file=a.img,if=virtio',
      '-drive',
      'file=b.img,if=virtio,readonly=on',
    ]);
    expect(rw).toMatchObject({ snapshot: true });
    expect(ro).toMatchObject({ snapshot: false });
    expect(plan(['-drive', 'file=a.img,if=virtio,snapshot=on'])[0]).toMatchObject({ snapshot: true });
  });

  it('microvm takes the -device spelling and a virtconsole on virtio-serial-device', () => {
    const specs = plan([
      '-M',
      'microvm',
      '-device',
      'virtio-serial-device',
      '-device',
      'virtconsole',
      '-netdev',
      'hubport,id=h,hubid=0',
      '-device',
      'virtio-net-device,netdev=h',
    ]);
    expect(specs.map((s) => s.kind)).toEqual(['console', 'net']);
  });

  it('names the option at fault for bad devices and properties', () => {
    expect(error(['-device', 'virtio-gpu-pci'])).toBe(
      "-device virtio-gpu-pci: 'virtio-gpu-pci' is not a valid device model name",
    );
    expect(error(['-device', 'virtio-rng-pci,speed=9'])).toBe(
      "-device virtio-rng-pci,speed=9: Property 'virtio-rng-pci.speed' not found",
    );
    expect(error(['-device', 'virtio-blk-pci'])).toBe('-device virtio-blk-pci: drive property not set');
    expect(error(['-device', 'virtio-blk-pci,drive=x'])).toContain("drive 'x' not found");
    expect(
      error([
        '-drive',
        'file=a,if=none,id=d',
        '-device',
        'virtio-blk-pci,drive=d',
        '-device',
        'virtio-blk-pci,drive=d',
      ]),
    ).toContain('already in use');
    expect(error(['-M', 'microvm', '-device', 'virtio-blk-pci,drive=d'])).toContain(
      "'virtio-blk-pci' is not available on the microvm machine (use virtio-blk-device)",
    );
    expect(error(['-device', 'virtio-rng-device'])).toContain(
      'not available on the pc machine (use virtio-rng-pci)',
    );
    expect(error(['-device', 'virtconsole'])).toContain("No 'virtio-serial-bus' bus found");
    expect(error(['-device', 'virtio-rng-pci,addr=0x1'])).toContain("Property 'addr'");
    expect(error(['-device', 'virtio-rng-pci,packed=maybe'])).toContain("'packed' expects 'on' or 'off'");
    expect(error(['-device', 'virtio-net-pci,netdev=n,mac=zz', '-netdev', 'hubport,id=n,hubid=1'])).toContain(
      "Property 'mac'",
    );
  });

  it('checks -netdev types and socket addresses', () => {
    expect(error(['-netdev', 'user,id=n0'])).toBe(
      "-netdev user,id=n0: netdev type 'user' is not available (socket, hubport)",
    );
    expect(error(['-netdev', 'socket,id=n0'])).toContain('exactly one of listen=, connect= or udp=');
    expect(error(['-netdev', 'socket,id=n0,udp=127.0.0.1:5000'])).toContain(
      'udp= and localaddr= go together',
    );
    expect(error(['-netdev', 'socket,id=n0,connect=localhost'])).toContain('is not host:port');
    expect(error(['-netdev', 'socket,id=n0,listen=:1,speed=3'])).toContain("Invalid parameter 'speed'");
    expect(error(['-netdev', 'hubport,id=a,hubid=x'])).toContain("'hubid' expects a number");
  });
});
