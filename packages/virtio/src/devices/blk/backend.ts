/**
 * The storage a virtio-blk device reads and writes. Synchronous so that it works the same over a
 * Node file descriptor, an in-memory image and a browser `FileSystemSyncAccessHandle`. Host failures
 * are reported as `false` (the guest sees VIRTIO_BLK_S_IOERR), never thrown into the device.
 */
export interface BlockBackend {
  /** Image size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** Fills `dst` from byte `offset`; false on a host I/O error. */
  read(offset: number, dst: Uint8Array): boolean;
  write(offset: number, src: Uint8Array): boolean;
  /** Makes completed writes durable (fsync for a file). */
  flush(): boolean;
  /** Hint that the range is unused; contents afterwards are unspecified. */
  discard(offset: number, length: number): boolean;
  /** The range reads as zeroes afterwards. */
  writeZeroes(offset: number, length: number): boolean;
}

/** A disk image held in memory (tests, browser demos, `-snapshot` overlays). */
export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  flushes = 0;

  constructor(
    image: Uint8Array | number,
    readonly readOnly = false,
  ) {
    this.bytes = typeof image === 'number' ? new Uint8Array(image) : image;
  }

  get size(): number {
    return this.bytes.length;
  }

  private inRange(offset: number, length: number): boolean {
    return offset >= 0 && length >= 0 && offset + length <= this.bytes.length;
  }

  read(offset: number, dst: Uint8Array): boolean {
    if (!this.inRange(offset, dst.length)) return false;
    dst.set(this.bytes.subarray(offset, offset + dst.length));
    return true;
  }

  write(offset: number, src: Uint8Array): boolean {
    if (this.readOnly || !this.inRange(offset, src.length)) return false;
    this.bytes.set(src, offset);
    return true;
  }

  flush(): boolean {
    this.flushes++;
    return true;
  }

  discard(offset: number, length: number): boolean {
    return this.writeZeroes(offset, length);
  }

  writeZeroes(offset: number, length: number): boolean {
    if (this.readOnly || !this.inRange(offset, length)) return false;
    this.bytes.fill(0, offset, offset + length);
    return true;
  }
}

/**
 * Copy-on-write over a base image (QEMU `-snapshot`): reads come from the base until a cluster is
 * written, writes go to `overlay` only, and the base is never modified. The overlay is any
 * BlockBackend of the same size (a temporary file under Node, memory in a browser).
 */
export class OverlayBlockBackend implements BlockBackend {
  readonly readOnly = false;
  private readonly written: Uint8Array;
  private readonly scratch: Uint8Array;

  constructor(
    readonly base: BlockBackend,
    readonly overlay: BlockBackend,
    readonly clusterSize = 4096,
  ) {
    if (overlay.size < base.size) throw new RangeError('overlay smaller than the base image');
    this.written = new Uint8Array(Math.ceil(base.size / clusterSize));
    this.scratch = new Uint8Array(clusterSize);
  }

  get size(): number {
    return this.base.size;
  }

  read(offset: number, dst: Uint8Array): boolean {
    return this.forClusters(offset, dst.length, (c, at, from, n) =>
      (this.written[c] === 1 ? this.overlay : this.base).read(at, dst.subarray(from, from + n)),
    );
  }

  write(offset: number, src: Uint8Array): boolean {
    return this.forClusters(offset, src.length, (c, at, from, n) => {
      if (!this.materialize(c, n)) return false;
      return this.overlay.write(at, src.subarray(from, from + n));
    });
  }

  flush(): boolean {
    return this.overlay.flush();
  }

  discard(offset: number, length: number): boolean {
    return offset >= 0 && offset + length <= this.size;
  }

  writeZeroes(offset: number, length: number): boolean {
    return this.forClusters(offset, length, (c, at, _from, n) => {
      if (!this.materialize(c, n)) return false;
      return this.overlay.writeZeroes(at, n);
    });
  }

  /** Copies cluster `c` from the base before its first partial write. */
  private materialize(c: number, writeLength: number): boolean {
    if (this.written[c] === 1) return true;
    const start = c * this.clusterSize;
    const n = Math.min(this.clusterSize, this.size - start);
    if (writeLength < n) {
      const buf = this.scratch.subarray(0, n);
      if (!this.base.read(start, buf) || !this.overlay.write(start, buf)) return false;
    }
    this.written[c] = 1;
    return true;
  }

  private forClusters(
    offset: number,
    length: number,
    each: (cluster: number, at: number, from: number, n: number) => boolean,
  ): boolean {
    if (offset < 0 || length < 0 || offset + length > this.size) return false;
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const c = Math.floor(at / this.clusterSize);
      const n = Math.min(length - done, (c + 1) * this.clusterSize - at);
      if (!each(c, at, done, n)) return false;
      done += n;
    }
    return true;
  }
}
