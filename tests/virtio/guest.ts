/**
 * Starts the default guest in a `typevisor` child process (the CLI, with the Node virtio backends:
 * files, sockets, host randomness) and types at its shell; see tests/boot/cli-guest.ts.
 */
import { type CliGuest, defaultImages, startDefaultCliGuest } from '../boot/cli-guest.js';

export const images = defaultImages;

export interface Guest {
  output(): string;
  /** Resolves with the first match of `pattern` in the output after `from` (default: everything). */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<string>;
  type(text: string): void;
  /** Types `command` at the shell and returns what it printed (up to the end marker). */
  run(command: string, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<number>;
  kill(): void;
}

export function startGuest(args: string[], append: string): Guest {
  const g: CliGuest = startDefaultCliGuest(args, append);
  return {
    output: g.output,
    waitFor: g.waitFor,
    type: g.type,
    exited: g.exited,
    kill: g.kill,
    run: async (command, timeoutMs) => (await g.run(command, timeoutMs)).output,
  };
}
