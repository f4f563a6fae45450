/** Why `Cpu.run()` / `Cpu.step()` returned. */
export const CpuExit = {
  /** The instruction budget ran out. */
  Budget: 0,
  /** HLT executed (or the CPU is halted with no interrupt to wake it). */
  Hlt: 1,
  /** Triple fault (or a fault in a state that allows no delivery): the platform should reset. */
  Shutdown: 2,
  /** A hook returned INTERCEPT: nothing of the intercepted instruction took effect. */
  Intercept: 3,
  /** `requestStop()` was called (from a hook or another thread's doorbell). */
  Stopped: 4,
  /**
   * `interruptWindowExiting` is set and the CPU reached an instruction boundary where it could take an
   * interrupt (EFLAGS.IF = 1, no STI/MOV SS shadow): VT-x's interrupt-window exit.
   */
  InterruptWindow: 5,
} as const;
export type CpuExit = (typeof CpuExit)[keyof typeof CpuExit];
