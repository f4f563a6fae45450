// Named bits of the x87 control and status words (Intel SDM Vol. 1, 8.1.3 and 8.1.5).

/** Exception flags; the same bit positions are the masks in the control word. */
export const EX_IE = 0x01; // invalid operation (incl. stack fault)
export const EX_DE = 0x02; // denormal operand
export const EX_ZE = 0x04; // zero divide
export const EX_OE = 0x08; // overflow
export const EX_UE = 0x10; // underflow
export const EX_PE = 0x20; // precision (inexact)
export const EX_ALL = 0x3f;

/** Status word. */
export const SW_SF = 0x0040; // stack fault (with IE)
export const SW_ES = 0x0080; // error summary: an unmasked exception is pending
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_TOP_SHIFT = 11;
export const SW_TOP_MASK = 0x3800;
export const SW_C3 = 0x4000;
export const SW_B = 0x8000; // busy; mirrors ES on the 387 and later
export const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;

/** Control word. */
export const CW_PC_SHIFT = 8;
export const CW_PC_MASK = 0x0300;
export const CW_RC_SHIFT = 10;
export const CW_RC_MASK = 0x0c00;
export const CW_X = 0x1000; // infinity control, ignored since the 387
/** FNINIT value: all exceptions masked, 64-bit precision, round to nearest. */
export const CW_INIT = 0x037f;
/** Power-up value (SDM Vol. 3, Table 9-1). */
export const CW_RESET = 0x0040;

/** Rounding control (CW bits 11:10). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** Tag word values, two bits per physical register (SDM Vol. 1, Figure 8-7). */
export const TAG_VALID = 0;
export const TAG_ZERO = 1;
export const TAG_SPECIAL = 2;
export const TAG_EMPTY = 3;

/** EFLAGS bits written by FCOMI/FUCOMI (ZF, PF, CF) and cleared by them (OF, SF, AF). */
export const EFLAGS_CF = 0x0001;
export const EFLAGS_PF = 0x0004;
export const EFLAGS_AF = 0x0010;
export const EFLAGS_ZF = 0x0040;
export const EFLAGS_SF = 0x0080;
export const EFLAGS_OF = 0x0800;
/** The EFLAGS bits FCOMI/FUCOMI define; the caller replaces exactly these. */
export const EFLAGS_FCOMI_MASK = EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF;
