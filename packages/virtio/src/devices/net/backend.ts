/**
 * A network backend (QEMU `-netdev`): carries Ethernet frames between one virtio-net device and
 * the outside. The device calls {@link NetBackend.attach} once with the function that hands frames
 * to the guest; frames the guest sends arrive in {@link NetBackend.send}.
 */
export interface NetBackend {
  send(frame: Uint8Array): void;
  attach(receive: (frame: Uint8Array) => void): void;
}

/** Sends every guest frame straight back to the same guest (a cable from the port to itself). */
export class LoopbackNetBackend implements NetBackend {
  private receive: ((frame: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.receive?.(frame.slice());
  }
  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
  }
}

/**
 * QEMU's `-netdev hubport`: a hub where a frame sent on one port is delivered to every other port.
 * Ports are NetBackends, so two devices on one hub talk to each other with no host networking;
 * a port can also be joined to another backend with {@link NetHub.connect}.
 */
export class NetHub {
  private readonly ports: HubPort[] = [];

  port(): NetBackend {
    const p = new HubPort(this);
    this.ports.push(p);
    return p;
  }

  /** Joins an external backend (a socket netdev) to the hub as one more port. */
  connect(backend: NetBackend): void {
    const p = new HubPort(this, backend);
    this.ports.push(p);
    backend.attach((frame) => this.forward(p, frame));
  }

  /** @internal */
  forward(from: HubPort, frame: Uint8Array): void {
    for (const p of this.ports) if (p !== from) p.deliver(frame.slice());
  }
}

class HubPort implements NetBackend {
  private receive: ((frame: Uint8Array) => void) | null = null;
  constructor(
    private readonly hub: NetHub,
    private readonly external: NetBackend | null = null,
  ) {}
  send(frame: Uint8Array): void {
    this.hub.forward(this, frame);
  }
  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
  }
  deliver(frame: Uint8Array): void {
    if (this.external !== null) this.external.send(frame);
    else this.receive?.(frame);
  }
}
