/**
 * 8254 ports and control-word bits. Source: Intel 82C54 CHMOS Programmable Interval Timer datasheet
 * (order no. 231244), Figure 7 "Control Word Format", Figure 11 "Read-Back Command Format",
 * Figure 12 "Status Byte", and "Mode Definitions" (modes 0-5).
 */

export const PIT_BASE = 0x40;
export const PIT_PORT_COUNT = 4;
export const COUNTER0_OFFSET = 0;
export const COUNTER1_OFFSET = 1;
export const COUNTER2_OFFSET = 2;
export const CONTROL_OFFSET = 3;

/** Input clock of the PC's 8254: 14.31818 MHz / 12. */
export const PIT_FREQUENCY_HZ = 1_193_182;

// Control word
export const CW_BCD = 0x01;
export const CW_MODE_SHIFT = 1;
export const CW_MODE_MASK = 0x0e;
export const CW_RW_SHIFT = 4;
export const CW_RW_MASK = 0x30;
export const CW_SC_SHIFT = 6;
/** SC = 11: read-back command. */
export const CW_SC_READ_BACK = 3;

/** RW field values. */
export const RW_LATCH = 0; // counter latch command
export const RW_LSB = 1;
export const RW_MSB = 2;
export const RW_LSB_MSB = 3;

// Read-back command (SC = 11)
export const RB_COUNT_N = 0x20; // 0 = latch count of the selected counters
export const RB_STATUS_N = 0x10; // 0 = latch status of the selected counters
export const RB_COUNTER0 = 0x02;
export const RB_COUNTER1 = 0x04;
export const RB_COUNTER2 = 0x08;

// Status byte
export const STATUS_OUTPUT = 0x80;
export const STATUS_NULL_COUNT = 0x40;

/** Counting modes (mode bits 110 and 111 alias modes 2 and 3). */
export const Mode = {
  InterruptOnTerminalCount: 0,
  HardwareRetriggerableOneShot: 1,
  RateGenerator: 2,
  SquareWave: 3,
  SoftwareTriggeredStrobe: 4,
  HardwareTriggeredStrobe: 5,
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];
