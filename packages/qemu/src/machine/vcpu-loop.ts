import type { ExitAction } from './exit-dispatch.js';

/** The states of a vCPU loop (Firecracker's vcpu state machine, with QEMU's run states). */
export type LoopState =
  /** Created and not started yet (QEMU's `-S`: "paused (prelaunch)"). */
  | 'prelaunch'
  | 'running'
  /** HLT with nothing to do: waits for an interrupt or a timer, then runs again. */
  | 'waiting'
  /** Stopped by the monitor (`stop`); `cont` resumes. */
  | 'paused'
  /** The guest powered off (or reset with -no-reboot), and the loop is done. */
  | 'shutdown'
  /** With -no-shutdown: stopped after the guest powered off ("paused (shutdown)"). */
  | 'paused-shutdown'
  | 'error';

export interface LoopPolicy {
  /** `-no-reboot`: a reset ends the VM instead. */
  readonly noReboot: boolean;
  /** `-no-shutdown`: a power-off pauses instead of ending. */
  readonly noShutdown: boolean;
  /** Puts the machine back in its power-on state (reload the kernel, reset devices and vCPU). */
  reset(): void;
}

/** What the loop reports when it stops or changes state. */
export interface LoopEvent {
  readonly state: LoopState;
  readonly reason: string;
}

/** The next state for an exit action in the running state: a pure function, the loop's table. */
export function nextState(
  action: ExitAction,
  policy: Pick<LoopPolicy, 'noReboot' | 'noShutdown'>,
): LoopState | 'reset' {
  switch (action.kind) {
    case 'continue':
    case 'inject':
      return 'running';
    case 'wait-for-interrupt':
      return 'waiting';
    case 'reset':
      return policy.noReboot ? 'shutdown' : 'reset';
    case 'shutdown':
      return policy.noShutdown ? 'paused-shutdown' : 'shutdown';
    case 'error':
      return 'error';
  }
}

/**
 * The vCPU loop as an explicit state machine over one "run until the next exit" step. The VMM calls
 * {@link VcpuLoop.runSlice} from its thread: it runs exits until the state leaves `running` or the
 * slice is used up, so a VMM can interleave device work (timers, console input, the monitor).
 */
export class VcpuLoop {
  state: LoopState = 'prelaunch';
  lastReason = '';
  exits = 0;

  constructor(
    private readonly step: () => ExitAction,
    private readonly policy: LoopPolicy,
  ) {}

  /** `cont` / start: prelaunch or paused -> running. */
  start(): void {
    if (this.state === 'prelaunch' || this.state === 'paused') this.state = 'running';
  }

  /** `stop`: running or waiting -> paused (other states stay, as in QEMU). */
  pause(): void {
    if (this.state === 'running' || this.state === 'waiting') this.state = 'paused';
  }

  /** An interrupt or timer is due: a waiting loop runs again. */
  wake(): void {
    if (this.state === 'waiting') this.state = 'running';
  }

  /** `system_reset`: reset now and keep the current run state (a paused VM stays paused). */
  reset(): void {
    this.policy.reset();
    if (this.state === 'shutdown' || this.state === 'paused-shutdown' || this.state === 'error')
      this.state = 'paused';
  }

  /** Runs up to `maxExits` exits while running; returns the state it stopped in. */
  runSlice(maxExits: number): LoopState {
    for (let i = 0; i < maxExits && this.state === 'running'; i++) {
      const action = this.step();
      this.exits++;
      const next = nextState(action, this.policy);
      if (action.kind === 'reset' || action.kind === 'shutdown') this.lastReason = action.reason;
      if (action.kind === 'error') this.lastReason = action.message;
      if (next === 'reset') {
        this.policy.reset();
        this.state = 'running';
      } else {
        this.state = next;
      }
    }
    return this.state;
  }
}
