import { describe, expect, it } from 'vitest';
import { startDefaultGuest } from './default-guest.js';

// The main job, through the whole stack with EPT (the facade's default, as kvm_intel's).
describe('the default guest through the KVM facade (ept=on)', () => {
  it('boots to a shell, answers echo $((6*7)) with 42, and powers off', { timeout: 1_200_000 }, async () => {
    const g = startDefaultGuest(['-accel', 'kvm,ept=on']);
    await g.waitFor(/GUEST-READY 6\.1\.\d+/, 1_000_000);
    await g.waitFor(/[~/] # $/, 120_000);
    g.type('echo $((6*7))\r');
    expect(await g.waitFor(/\r\n42\r\n/, 120_000)).toBe('\r\n42\r\n');
    g.type('poweroff -f\r');
    expect(await g.exited).toBe(0); // -no-reboot: the guest's power-off (a reset without ACPI) ends the VM
  });
});
