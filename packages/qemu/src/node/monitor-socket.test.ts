import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Monitor, type MonitorTarget } from '../monitor/hmp.js';
import { parseCharBackend } from '../options/parse.js';
import { serveMonitor } from './monitor-socket.js';

const target: MonitorTarget = {
  version: '0.1.0',
  kvmEnabled: true,
  status: () => 'prelaunch',
  stop: () => {},
  cont: () => {},
  reset: () => {},
  powerdown: () => {},
  quit: () => {},
  cpus: () => [],
  cpuThreadId: () => 1,
  readPhysical: (_a, n) => new Uint8Array(n),
  readVirtual: () => undefined,
  info: {},
};

/** Sends `lines` one by one and collects everything until `count` prompts have arrived. */
function session(port: number, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    let prompts = 0;
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      text += d;
      const n = text.split('(qemu) ').length - 1;
      while (prompts < n) {
        prompts++;
        const next = lines[prompts - 1];
        if (next === undefined) {
          s.end();
          resolve(text);
          return;
        }
        s.write(`${next}\n`);
      }
    });
    s.on('error', reject);
  });
}

describe('the monitor on a socket (-monitor tcp:...,server)', () => {
  it('greets, prompts and answers commands line by line, as QEMU does', async () => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const server = await serveMonitor(
      parseCharBackend(`tcp:127.0.0.1:${port},server,nowait`),
      new Monitor(target),
      '0.1.0',
    );
    try {
      const text = await session(port, ['info status', 'info kvm', 'bogus']);
      expect(text).toContain("Typevisor 0.1.0 monitor - type 'help' for more information");
      expect(text).toContain('VM status: paused (prelaunch)\r\n(qemu) ');
      expect(text).toContain('kvm support: enabled\r\n');
      expect(text).toContain("unknown command: 'bogus'\r\n");
    } finally {
      server.close();
    }
  });

  it('names the address when the port is taken', async () => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const b = parseCharBackend(`tcp:127.0.0.1:${port},server,nowait`);
    const first = await serveMonitor(b, new Monitor(target), '0.1.0');
    try {
      await expect(serveMonitor(b, new Monitor(target), '0.1.0')).rejects.toThrow(
        `-monitor tcp:127.0.0.1:${port}: Address already in use`,
      );
    } finally {
      first.close();
    }
  });

  it('refuses a client-mode socket with a clear message', async () => {
    await expect(
      serveMonitor(parseCharBackend('tcp:127.0.0.1:4444'), new Monitor(target), '0.1.0'),
    ).rejects.toThrow("only server mode is supported (add ',server')");
  });
});
