import { nodeCryptoEntropy, openDrive, openSocketNetdev } from '@typevisor/virtio/node';
import type { VirtioBackends } from '../machine/virtio-devices.js';

/**
 * The Node backends of the virtio devices, for `VmHost.virtio`: raw image files opened read-write
 * (guest flushes are fsync), `-snapshot` overlays in a temporary file, QEMU's `-netdev socket`
 * (TCP `listen=`/`connect=`, UDP `udp=`+`localaddr=`) and `crypto.randomFillSync`.
 */
export function nodeVirtioBackends(): VirtioBackends {
  return {
    openDrive: (d) => openDrive({ file: d.file, format: 'raw', readonly: d.readonly, snapshot: d.snapshot }),
    openSocketNetdev: (props) => {
      const pick = (k: string) => props.get(k);
      const listen = pick('listen');
      const connect = pick('connect');
      const udp = pick('udp');
      const localaddr = pick('localaddr');
      return openSocketNetdev({
        ...(listen === undefined ? {} : { listen }),
        ...(connect === undefined ? {} : { connect }),
        ...(udp === undefined ? {} : { udp }),
        ...(localaddr === undefined ? {} : { localaddr }),
      });
    },
    entropy: nodeCryptoEntropy,
  };
}
