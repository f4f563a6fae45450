#!/usr/bin/env node
/**
 * typevisor: the qemu-system-x86_64-style command line. A thin shell: it parses argv with
 * @typevisor/qemu and hands the result to the frontend; no emulation logic lives here.
 */
import { existsSync, statSync } from 'node:fs';
import { CommandLineError, VERSION, helpText, parseCommandLine } from '@typevisor/qemu';

const PROGRAM = 'typevisor';

/** Runs the CLI and returns the process exit status; output goes through the given writers. */
export function main(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  let cmd: ReturnType<typeof parseCommandLine>;
  try {
    cmd = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof CommandLineError) {
      err(`${PROGRAM}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (cmd.action === 'version') {
    out(
      `${PROGRAM} version ${VERSION} (qemu-system-x86_64 compatible command line, KVM facade accelerator)\n`,
    );
    return 0;
  }
  if (cmd.action === 'help') {
    out(`${helpText(PROGRAM)}\n`);
    return 0;
  }
  const { config } = cmd;
  for (const [what, file] of [
    ['-kernel', config.kernel],
    ['-initrd', config.initrd],
    ['-bios', config.bios],
    ...config.drives.map((d) => ['-drive', d.file] as const),
  ] as const) {
    if (file === undefined) continue;
    if (!existsSync(file)) {
      err(`${PROGRAM}: ${what} ${file}: No such file or directory\n`);
      return 1;
    }
    if (!statSync(file).isFile()) {
      err(`${PROGRAM}: ${what} ${file}: not a regular file\n`);
      return 1;
    }
  }
  err(
    `${PROGRAM}: cannot start the guest yet: the software CPU cannot execute guests and the KVM facade has no KVM_RUN ` +
      '(see docs/status.md)\n',
  );
  return 1;
}

const isEntry =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isEntry) {
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  process.exitCode = main(
    args,
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}
