#!/usr/bin/env node
/**
 * typevisor: the qemu-system-x86_64-style command line. A thin shell: it parses argv with
 * @typevisor/qemu, hands the VM its files, the terminal and a clock, and exits when the VM ends.
 * No emulation logic lives here.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import {
  CommandLineError,
  helpText,
  logHelpText,
  parseCommandLine,
  VERSION,
  VirtualMachine,
  type VmHost,
  VmStartError,
} from '@typevisor/qemu';
import { nodeOpenChardev, nodeVcpuThreads, nodeVirtioBackends, serveMonitor } from '@typevisor/qemu/node';

const PROGRAM = 'typevisor';

/** The process around the CLI, injectable for tests. */
export interface CliIo {
  out(s: string | Uint8Array): void;
  err(s: string): void;
  exit(status: number): void;
  /** Where terminal input comes from; `null` when there is none (CI, tests). */
  readonly stdin: NodeJS.ReadStream | null;
}

/** Throws a VmStartError naming `path` unless it is a regular file. */
function checkFile(what: string, path: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new VmStartError(`${what} ${path}: No such file or directory`);
  }
  if (!st.isFile()) throw new VmStartError(`${what} ${path}: not a regular file`);
}

function readFile(what: string, path: string): Uint8Array {
  checkFile(what, path);
  return new Uint8Array(readFileSync(path));
}

/**
 * Runs the CLI. Returns the exit status when it is known at once (help, version, a bad option or
 * file), or undefined while a VM runs; the VM calls `io.exit` when it ends.
 */
export function main(argv: readonly string[], io: CliIo): number | undefined {
  let cmd: ReturnType<typeof parseCommandLine>;
  try {
    cmd = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof CommandLineError) {
      io.err(`${PROGRAM}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (cmd.action === 'version') {
    io.out(
      `${PROGRAM} version ${VERSION} (qemu-system-x86_64 compatible command line, KVM facade accelerator)\n`,
    );
    return 0;
  }
  if (cmd.action === 'help') {
    io.out(`${helpText(PROGRAM)}\n`);
    return 0;
  }
  if (cmd.action === 'list') {
    io.out(`${cmd.text}\n`); // -cpu help, -machine help, -device help: status 0, as QEMU
    return 0;
  }
  if (cmd.action === 'log-help') {
    io.out(`${logHelpText()}\n`);
    return 1; // as QEMU: `-d help` lists the items and exits with status 1
  }
  const { config } = cmd;
  const names = new Map<string, string>();
  if (config.kernel !== undefined) names.set(config.kernel, '-kernel');
  if (config.initrd !== undefined) names.set(config.initrd, '-initrd');
  if (config.bios !== undefined) names.set(config.bios, '-bios');
  for (const d of config.drives) names.set(d.file, '-drive');
  // Check every named file before starting, so a typo is reported before anything runs.
  try {
    for (const [path, what] of names) checkFile(what, path); // disk images are opened, not read, later
  } catch (e) {
    if (e instanceof VmStartError) {
      io.err(`${PROGRAM}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const stdin = io.stdin;
  const closers: (() => void)[] = [];
  // `-d` lines go to the `-D` file (created or truncated now, as QEMU does) or to stderr.
  let log: ((text: string) => void) | undefined;
  if (config.logFile !== undefined) {
    let fd: number;
    try {
      fd = openSync(config.logFile, 'w');
    } catch (e) {
      const reason =
        (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
      io.err(`${PROGRAM}: Error opening logfile ${config.logFile}: ${reason}\n`);
      return 1;
    }
    log = (text) => writeSync(fd, text);
    closers.push(() => closeSync(fd));
  } else if (config.logItems.length > 0) {
    log = (text) => io.err(text);
  }
  const host: VmHost = {
    readFile: (path) => readFile(names.get(path) ?? 'file', path),
    write: (d) => io.out(d),
    exit: (status) => {
      for (const close of closers) close();
      if (stdin?.isTTY) stdin.setRawMode(false);
      stdin?.pause();
      io.exit(status);
    },
    clock: { nowNs: () => Math.round(performance.now() * 1e6) },
    threadId: process.pid,
    defer: (fn) => setImmediate(fn),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    virtio: nodeVirtioBackends(),
    openChardev: nodeOpenChardev,
    startVcpuThread: nodeVcpuThreads(),
    ...(log ? { log } : {}),
  };
  let vm: VirtualMachine;
  try {
    vm = new VirtualMachine(config, host);
  } catch (e) {
    if (e instanceof VmStartError) {
      io.err(`${PROGRAM}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const cpuWarnings = 'cpuWarnings' in vm.machine ? vm.machine.cpuWarnings : [];
  for (const w of [...vm.warnings, ...cpuWarnings]) io.err(`${PROGRAM}: warning: ${w}\n`);
  if (stdin !== null) {
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', (chunk: Buffer) => vm.input(chunk));
  }
  const monitor = config.monitor;
  // QEMU opens every backend before the guest starts: the monitor's socket listens, a `-serial` socket
  // server with `wait` has its client, a `-serial` client is connected.
  const monitorReady =
    monitor !== undefined && (monitor.kind === 'tcp' || monitor.kind === 'unix')
      ? serveMonitor(monitor, vm.monitor, VERSION).then((server) => {
          closers.push(() => server.close());
        })
      : Promise.resolve();
  Promise.all([monitorReady, vm.ready]).then(
    () => vm.start(),
    (e: Error) => {
      io.err(`${PROGRAM}: ${e.message}\n`);
      vm.end(1);
    },
  );
  return undefined;
}

const isEntry =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isEntry) {
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  const status = main(args, {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    exit: (s) => process.exit(s),
    stdin: process.stdin.isTTY || !process.stdin.readableEnded ? process.stdin : null,
  });
  if (status !== undefined) process.exitCode = status;
}
