import { describe, expect, it } from 'vitest';
import { PciConfigSpace } from '../pci/config-space.js';
import { PciHost } from '../pci/device.js';
import { PciConfigDriver, RecordingBarObserver, RecordingBoard } from './index.js';

describe('testing fakes', () => {
  it('PciConfigDriver sizes I/O and memory BARs like firmware; RecordingBarObserver tracks them', () => {
    const host = new PciHost();
    const bars = new RecordingBarObserver();
    host.attach(
      2,
      0,
      new PciConfigSpace({
        vendorId: 0x1af4,
        deviceId: 0x1042,
        classCode: 0x010000,
        bars: [
          { kind: 'io', size: 64 },
          { kind: 'mem32', size: 0x2000 },
        ],
        barObserver: bars,
      }),
    );
    const pci = new PciConfigDriver(host);
    expect(pci.read(2, 0, 0)).toBe(0x1042_1af4);
    expect(pci.sizeBar(2, 0, 0)).toBe(64);
    expect(pci.sizeBar(2, 0, 1)).toBe(0x2000);
    expect(pci.sizeBar(2, 0, 2)).toBe(0);
    pci.write(2, 0, 0x14, 0xfe00_0000);
    pci.write(2, 0, 0x04, 0x2, 2);
    expect(bars.current.get(1)?.address).toBe(0xfe00_0000);
  });

  it('RecordingBoard records every board signal', () => {
    const b = new RecordingBoard();
    b.setA20(false);
    b.requestReset();
    b.powerOff();
    b.exit(3);
    expect([b.a20, b.resets, b.powerOffs, b.exitCodes]).toEqual([false, 1, 1, [3]]);
  });
});
