import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from './main.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/images/default-i386');

function runMain(args: string[]) {
  let out = '';
  let err = '';
  const exits: number[] = [];
  const status = main(args, {
    out: (s) => {
      out += typeof s === 'string' ? s : new TextDecoder().decode(s);
    },
    err: (s) => {
      err += s;
    },
    exit: (s) => exits.push(s),
    stdin: null,
  });
  return { status, out, err, exits };
}

describe('typevisor CLI', () => {
  it('prints its version with -version and exits 0', () => {
    const r = runMain(['-version']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^typevisor version \d+\.\d+\.\d+/);
  });

  it('prints help derived from the option table', () => {
    const r = runMain(['-h']);
    expect(r.status).toBe(0);
    expect(r.out).toContain('-append cmdline');
  });

  it('names a bad option in one line and exits 1', () => {
    const r = runMain(['-m', 'lots']);
    expect(r.status).toBe(1);
    expect(r.err).toBe("typevisor: -m lots: Parameter 'size' expects a size\n");
  });

  it('names a missing kernel file before starting anything', () => {
    const r = runMain(['-kernel', '/nonexistent/bzImage']);
    expect(r.status).toBe(1);
    expect(r.err).toBe('typevisor: -kernel /nonexistent/bzImage: No such file or directory\n');
  });

  it('names a file that is not a kernel', () => {
    const r = runMain(['-kernel', join(images, 'initrd.cpio.gz')]);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^typevisor: -kernel .*initrd\.cpio\.gz: not a Linux bzImage: /);
  });

  it('starts the default guest paused with -S (the VM runs on, status undefined)', () => {
    const r = runMain(['-S', '-m', '64', '-kernel', join(images, 'bzImage'), '-nographic']);
    expect(r.err).toBe('');
    expect(r.status).toBeUndefined();
  });

  it('names an unknown CPU model or feature as QEMU does, exit 1', () => {
    const r = runMain(['-cpu', 'pentium4']);
    expect(r.status).toBe(1);
    expect(r.err).toBe("typevisor: unable to find CPU model 'pentium4'\n");
    const f = runMain(['-cpu', 'pentium3,+frob']);
    expect(f.status).toBe(1);
    expect(f.err).toBe("typevisor: Property 'pentium3-x86_64-cpu.frob' not found\n");
  });

  it('warns for each -cpu feature the KVM facade does not support, then starts', () => {
    const r = runMain([
      '-S',
      '-m',
      '64',
      '-kernel',
      join(images, 'bzImage'),
      '-cpu',
      'pentium3,+sse2,+sse4.1,+aes,+avx,+avx512f',
      '-nographic',
    ]);
    expect(r.status).toBeUndefined();
    expect(r.err).toContain(
      "typevisor: warning: host doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]\n",
    );
    // SSE, SSE2, SSE4.1, AES-NI and AVX are the facade CPU's: no warning for them.
    expect(r.err).not.toMatch(/EDX\.sse2? |ECX\.(sse4|aes|avx)/);
  });

  it('-cpu help, -machine help and -device help print their listings and exit 0', () => {
    const cpu = runMain(['-cpu', 'help']);
    expect(cpu.status).toBe(0);
    expect(cpu.out).toMatch(/^Available CPUs:\nx86 qemu32 /);
    expect(cpu.out).toContain('\nRecognized CPUID flags:\n  3dnow ');
    expect(runMain(['-cpu', '?']).out).toBe(cpu.out);
    const machines = runMain(['-M', 'help']);
    expect(machines.status).toBe(0);
    expect(machines.out).toBe(
      'Supported machines are:\nmicrovm              microvm (i386)\npc                   Standard PC (i440FX + PIIX, 1996)\n',
    );
    const devices = runMain(['-device', 'help']);
    expect(devices.status).toBe(0);
    expect(devices.out).toContain('name "virtio-blk-pci", bus PCI\n');
    expect(devices.err).toBe('');
  });

  it('-d help lists the log items as QEMU does (status 1, like QEMU); an unknown item is named', () => {
    const r = runMain(['-d', 'help']);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^Log items \(comma separated\):\n/);
    expect(r.out).toContain('\nguest_errors    log when the guest OS does something invalid');
    const bad = runMain(['-d', 'int,bogus']);
    expect(bad.status).toBe(1);
    expect(bad.err).toBe("typevisor: -d int,bogus: unknown log item 'bogus'\n");
  });

  it('-D names a log file it cannot create, before starting', () => {
    const r = runMain(['-d', 'int', '-D', '/nonexistent/dir/x.log', '-kernel', join(images, 'bzImage')]);
    expect(r.status).toBe(1);
    expect(r.err).toBe(
      'typevisor: Error opening logfile /nonexistent/dir/x.log: No such file or directory\n',
    );
  });

  it('-d cpu_reset -D file: the reset dump lands in the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'typevisor-log-'));
    const file = join(dir, 'log.txt');
    const r = runMain([
      '-S',
      '-m',
      '64',
      '-kernel',
      join(images, 'bzImage'),
      '-d',
      'cpu_reset',
      '-D',
      file,
      '-nographic',
    ]);
    expect(r.err).toBe('');
    expect(readFileSync(file, 'utf8')).toMatch(/^CPU Reset \(CPU 0\)\nEAX=00000000 .*\nEIP=0000fff0 /s);
    rmSync(dir, { recursive: true });
  });

  it('-serial names a socket it cannot connect to, as QEMU does, and exits 1 before the guest runs', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    let err = '';
    const exits: number[] = [];
    const status = main(
      ['-m', '64', '-kernel', join(images, 'bzImage'), '-serial', `tcp:127.0.0.1:${port}`],
      {
        out: () => {},
        err: (s) => {
          err += s;
        },
        exit: (s) => exits.push(s),
        stdin: null,
      },
    );
    expect(status).toBeUndefined();
    for (let i = 0; i < 200 && exits.length === 0; i++) await new Promise((w) => setTimeout(w, 5));
    expect(exits).toEqual([1]);
    expect(err).toBe(
      `typevisor: -serial tcp:127.0.0.1:${port}: Failed to connect to '127.0.0.1:${port}': Connection refused\n`,
    );
  });

  it('names a missing IDE image before starting', () => {
    const r = runMain(['-hda', '/nonexistent/disk.img', '-kernel', join(images, 'bzImage')]);
    expect(r.status).toBe(1);
    expect(r.err).toBe('typevisor: -drive /nonexistent/disk.img: No such file or directory\n');
  });

  it('refuses two IDE drives at one position, as QEMU does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'typevisor-ide-'));
    const file = join(dir, 'a.img');
    writeFileSync(file, new Uint8Array(1024));
    const r = runMain([
      '-hda',
      file,
      '-drive',
      `file=${file},if=ide,index=0`,
      '-kernel',
      join(images, 'bzImage'),
    ]);
    expect(r.status).toBe(1);
    expect(r.err).toBe('typevisor: drive with bus=0, unit=0 (index=0) exists\n');
    rmSync(dir, { recursive: true });
  });

  it('as a process: the monitor answers info registers over a socket, and quit ends the process', async () => {
    const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'typevisor.mjs');
    const port = 40000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, [
      bin,
      '-S',
      '-m',
      '64',
      '-kernel',
      join(images, 'bzImage'),
      '-nographic',
      '-monitor',
      `tcp:127.0.0.1:${port},server,nowait`,
    ]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let text = '';
    // A loaded machine may take many seconds to start Node, tsx and the sources: up to a minute.
    for (let attempt = 0; attempt < 600 && text === ''; attempt++) {
      text = await new Promise<string>((resolve) => {
        const s = connect(port, '127.0.0.1');
        let got = '';
        let sent = false;
        s.setEncoding('latin1');
        s.on('data', (d: string) => {
          got += d;
          if (!sent && got.includes('(qemu) ')) {
            sent = true;
            s.write('info registers\nquit\n');
          }
        });
        // Until the process listens, connections are refused: retry every 100 ms.
        s.on('close', () => setTimeout(() => resolve(got), got === '' ? 100 : 0));
        s.on('error', () => {});
      });
    }
    expect(text).toContain('EIP=00100000'); // the kernel's 32-bit entry, loaded and not yet run (-S)
    expect(text).toContain('CS =0010 00000000 ffffffff 00c09b00 DPL=0 CS32 [-RA]'); // as QEMU with KVM shows it
    expect(await exited).toBe(0);
  }, 120_000);

  it('as a process: an unknown option gives one line on stderr, status 1, no stack trace', () => {
    const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'typevisor.mjs');
    const r = spawnSync(process.execPath, [bin, '-frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('typevisor: -frobnicate: invalid option\n');
    expect(r.stdout).toBe('');
  });
});
