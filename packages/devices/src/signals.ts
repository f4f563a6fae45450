/**
 * One-method interfaces for the side effects of board-level devices beyond interrupts and bytes
 * (the composition root implements them; devices never reach the CPU or the machine).
 */

/** The A20 address line gate (port 0x92 bit 1, i8042 output port bit 1). */
export interface A20Line {
  setA20(enabled: boolean): void;
}

/** A request to reset the machine (port 0x92 bit 0, i8042 command 0xFE, PIIX reset control 0xCF9). */
export interface ResetLine {
  requestReset(): void;
}

/** Where a guest-requested power transition goes (ACPI PM1 control, isa-debug-exit). */
export interface PowerControl {
  /** ACPI S5 (soft off). */
  powerOff(): void;
}

/** The exit of QEMU's isa-debug-exit device: the VMM should exit with `code`. */
export interface ExitHandler {
  exit(code: number): void;
}

/** No-op defaults, for devices wired without the corresponding side effect. */
export const NO_A20: A20Line = { setA20() {} };
export const NO_RESET: ResetLine = { requestReset() {} };
