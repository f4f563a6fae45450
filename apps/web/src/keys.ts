/** The page's two consoles, as QEMU's View menu names them. */
export type ConsoleName = 'serial0' | 'compat_monitor0';

/** The key a console is on: QEMU's Ctrl-Alt-1 (first console) and Ctrl-Alt-2 (the monitor). */
export const CONSOLE_KEYS: Readonly<Record<ConsoleName, string>> = {
  serial0: 'Digit1',
  compat_monitor0: 'Digit2',
};

/** The console a key press switches to, or undefined if it is not a switch key. */
export function consoleForKey(e: {
  readonly ctrlKey: boolean;
  readonly altKey: boolean;
  readonly shiftKey?: boolean;
  readonly metaKey?: boolean;
  readonly code: string;
}): ConsoleName | undefined {
  if (!e.ctrlKey || !e.altKey || e.shiftKey === true || e.metaKey === true) return undefined;
  for (const [name, code] of Object.entries(CONSOLE_KEYS) as [ConsoleName, string][]) {
    if (e.code === code) return name;
  }
  return undefined;
}
