/**
 * i8042 keyboard controller and PS/2 device constants. Sources: IBM PS/2 Hardware Interface Technical
 * Reference, "Keyboard/Auxiliary Device Controller" (status register, command byte, controller
 * commands) and "Keyboard and Auxiliary Device" (PS/2 keyboard and mouse commands, packet format).
 */

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
/** Offsets used when the controller is inserted as two one-port ranges. */
export const DATA_OFFSET = 0;

// Status register (read 0x64)
export const STATUS_OBF = 0x01; // output buffer full
export const STATUS_IBF = 0x02; // input buffer full (never set: writes complete at once)
export const STATUS_SYS = 0x04; // system flag (command byte bit 2)
export const STATUS_A2 = 0x08; // last write was to 0x64
export const STATUS_UNLOCKED = 0x10; // keyboard not inhibited
export const STATUS_AUX_OBF = 0x20; // output buffer holds auxiliary (mouse) data

// Command byte (controller RAM byte 0)
export const CMD_KBD_INT = 0x01;
export const CMD_AUX_INT = 0x02;
export const CMD_SYS = 0x04;
export const CMD_KBD_DISABLE = 0x10;
export const CMD_AUX_DISABLE = 0x20;
export const CMD_TRANSLATE = 0x40;

// Controller commands (write 0x64)
export const CCMD_READ_RAM = 0x20; // 0x20-0x3f
export const CCMD_WRITE_RAM = 0x60; // 0x60-0x7f
export const CCMD_AUX_DISABLE = 0xa7;
export const CCMD_AUX_ENABLE = 0xa8;
export const CCMD_AUX_TEST = 0xa9;
export const CCMD_SELF_TEST = 0xaa;
export const CCMD_KBD_TEST = 0xab;
export const CCMD_KBD_DISABLE = 0xad;
export const CCMD_KBD_ENABLE = 0xae;
export const CCMD_READ_INPUT_PORT = 0xc0;
export const CCMD_READ_OUTPUT_PORT = 0xd0;
export const CCMD_WRITE_OUTPUT_PORT = 0xd1;
export const CCMD_WRITE_KBD_OBUF = 0xd2;
export const CCMD_WRITE_AUX_OBUF = 0xd3;
export const CCMD_WRITE_AUX = 0xd4;
export const CCMD_DISABLE_A20 = 0xdd;
export const CCMD_ENABLE_A20 = 0xdf;
export const CCMD_PULSE_OUTPUT = 0xf0; // 0xf0-0xff: pulse output port bits 3-0 low where the command bit is 0

export const SELF_TEST_OK = 0x55;
export const INTERFACE_TEST_OK = 0x00;

// Output port
export const OUT_RESET_N = 0x01; // 0 resets the CPU
export const OUT_A20 = 0x02;
export const OUT_KBD_OBF = 0x10; // IRQ1
export const OUT_AUX_OBF = 0x20; // IRQ12
export const OUT_DEFAULT = 0xcf; // reset high, A20 on, clock/data lines high

// PS/2 device responses
export const ACK = 0xfa;
export const RESEND = 0xfe;
export const BAT_OK = 0xaa;
export const ECHO = 0xee;

// PS/2 keyboard commands
export const KBD_SET_LEDS = 0xed;
export const KBD_ECHO = 0xee;
export const KBD_SCANCODE_SET = 0xf0;
export const KBD_IDENTIFY = 0xf2;
export const KBD_TYPEMATIC = 0xf3;
export const KBD_ENABLE = 0xf4;
export const KBD_DISABLE = 0xf5;
export const KBD_DEFAULTS = 0xf6;
export const KBD_RESEND = 0xfe;
export const KBD_RESET = 0xff;
/** MF2 keyboard identity (after ACK). */
export const KBD_ID = [0xab, 0x83] as const;

// PS/2 mouse commands
export const AUX_SCALING_1_1 = 0xe6;
export const AUX_SCALING_2_1 = 0xe7;
export const AUX_SET_RESOLUTION = 0xe8;
export const AUX_STATUS = 0xe9;
export const AUX_SET_STREAM = 0xea;
export const AUX_READ_DATA = 0xeb;
export const AUX_RESET_WRAP = 0xec;
export const AUX_SET_WRAP = 0xee;
export const AUX_SET_REMOTE = 0xf0;
export const AUX_GET_ID = 0xf2;
export const AUX_SET_SAMPLE_RATE = 0xf3;
export const AUX_ENABLE = 0xf4;
export const AUX_DISABLE = 0xf5;
export const AUX_DEFAULTS = 0xf6;
export const AUX_RESET = 0xff;
/** Device IDs: standard PS/2 mouse, and IntelliMouse (wheel) after rates 200, 100, 80. */
export const MOUSE_ID_STANDARD = 0x00;
export const MOUSE_ID_INTELLIMOUSE = 0x03;

// Mouse packet byte 0
export const PKT_LEFT = 0x01;
export const PKT_RIGHT = 0x02;
export const PKT_MIDDLE = 0x04;
export const PKT_ALWAYS_1 = 0x08;
export const PKT_X_SIGN = 0x10;
export const PKT_Y_SIGN = 0x20;
export const PKT_X_OVERFLOW = 0x40;
export const PKT_Y_OVERFLOW = 0x80;

/** Bound on each device's output queue, so a flood of host input cannot grow memory. */
export const PS2_QUEUE_CAPACITY = 64;
