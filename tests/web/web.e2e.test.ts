/**
 * End to end: build apps/web, serve it with `vite preview` on localhost, and drive Debian's Chromium
 * (installed by .ci/run with apt-get) headless through playwright-core. Screenshots go to
 * artifacts/web/. Where /usr/bin/chromium is absent every test here fails, saying so: it cannot run.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserContext,
  buildAndServe,
  CHROMIUM,
  consoleText,
  launchChromium,
  litPixels,
  type Page,
  type ServedApp,
  serveDev,
  waitForConsole,
} from '../../apps/web/e2e/harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(ROOT, 'artifacts', 'web');
const IMAGES = join(ROOT, 'tools', 'images', 'default-i386');
/**
 * How long the default guest may take to reach its shell prompt in the page. Measured: 22-30 s on
 * the 2-core development machine under light load, over 10 minutes when it was saturated by other
 * guest boots (as CI's `npm test` runs tests/boot beside this file). Generous, and finite.
 */
const BOOT_TIMEOUT_MS = 1_500_000;

describe('apps/web in headless Chromium', () => {
  let app: ServedApp | undefined;
  let chrome: { context: BrowserContext; close(): Promise<void> } | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `cannot run: chromium is not installed (${CHROMIUM} is absent; apt-get install -y chromium, as .ci/run does)`,
      );
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await buildAndServe();
    chrome = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await chrome?.close();
    await app?.close();
  });

  async function open(): Promise<{ page: Page; errors: string[] }> {
    const page = await chrome!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(app!.url);
    return { page, errors };
  }

  /** The page's run state line ("prelaunch", "running", "ended (exit status 1)", ...). */
  const stateText = async (page: Page) => (await page.locator('#state').textContent()) ?? '';

  it('is cross-origin isolated, starts the default guest paused (-S) and answers `info status` in the monitor', async () => {
    expect(app!.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(app!.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const { page, errors } = await open();
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

    await page.check('#start-paused');
    await page.selectOption('#memory', '64');
    await page.click('#boot');
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'prelaunch');
    expect(await page.locator('#cmdline').textContent()).toBe(
      'typevisor -m 64 -accel kvm,ept=on -S -kernel bzImage -initrd initrd.cpio.gz -append console=ttyS0',
    );
    expect(await page.locator('#pause').textContent()).toBe('Resume');

    // QEMU's Ctrl-Alt-2: the monitor console.
    await page.keyboard.press('Control+Alt+Digit2');
    expect(await page.getAttribute('#tab-compat_monitor0', 'aria-selected')).toBe('true');
    await page.keyboard.type('info status');
    await page.keyboard.press('Enter');
    const text = await waitForConsole(page, 'compat_monitor0', (t) => t.includes('VM status:'), 30_000);
    expect(text).toContain('(qemu) info status\nVM status: paused (prelaunch)\n(qemu)');
    await page.screenshot({ path: join(ARTIFACTS, 'monitor-info-status.png') });

    // The VGA canvas (-vga std, drawn by the worker): the boot screen's banner in the VGA font.
    const vga = await litPixels(page, join(ARTIFACTS, 'vga-boot-screen.png'));
    expect(vga.width).toBeGreaterThanOrEqual(720);
    expect(vga.height).toBeGreaterThanOrEqual(400);
    expect(vga.lit).toBeGreaterThan(300);

    // Ctrl-Alt-1 goes back to the serial console.
    await page.keyboard.press('Control+Alt+Digit1');
    expect(await page.getAttribute('#tab-serial0', 'aria-selected')).toBe('true');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('names a file that is not bootable with the loader message', async () => {
    const { page } = await open();
    await page.setInputFiles('#kernel', join(IMAGES, 'initrd.cpio.gz'));
    await page.click('#boot');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toMatch(/^typevisor: -kernel initrd\.cpio\.gz: not a Linux bzImage: /);
    expect(await stateText(page)).toBe('no machine');
    await page.close();
  }, 120_000);

  it('is cross-origin isolated in the dev server too, which serves the default guest as it is', async () => {
    const dev = await serveDev();
    try {
      expect(dev.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      const page = await chrome!.context.newPage();
      await page.goto(dev.url);
      expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
      const size = await page.evaluate(
        async () => (await (await fetch('default-guest/bzImage')).arrayBuffer()).byteLength,
      );
      expect(size).toBe(statSync(join(IMAGES, 'bzImage')).size);
      await page.close();
    } finally {
      await dev.close();
    }
  }, 120_000);

  it(
    'boots the default guest to a shell prompt in the page, answers `uname -a` and saves a screenshot',
    async () => {
      const { page, errors } = await open();
      try {
        const seconds = await bootToShell(page);
        writeFileSync(join(ARTIFACTS, 'boot-time.txt'), `${seconds.toFixed(1)} s to the shell prompt\n`);
        console.log(`apps/web: the default guest reached its shell prompt in ${seconds.toFixed(1)} s`);
        expect(errors).toEqual([]);
      } finally {
        // Whatever happened, the screen is the artifact: the page, and the VGA canvas alone.
        await page.screenshot({ path: join(ARTIFACTS, 'serial-uname.png'), fullPage: true });
        await page.locator('#vga').screenshot({ path: join(ARTIFACTS, 'vga-after-boot.png') });
        await page.close();
      }
    },
    BOOT_TIMEOUT_MS + 120_000,
  );

  /** Boots the default guest, runs `uname -a`; returns the seconds from Boot to the shell prompt. */
  async function bootToShell(page: Page): Promise<number> {
    const t0 = performance.now();
    await page.click('#boot');
    // Give up early when the machine ended, or its worker has been stuck in one KVM_RUN for 30 s.
    const ended = async () => {
      const s = await stateText(page);
      const stuck = /not responding for (\d+) s/.exec(s);
      if (s.startsWith('ended') || (stuck !== null && Number(stuck[1]) >= 30)) return `the machine: ${s}`;
      return undefined;
    };
    await waitForConsole(page, 'serial0', (t) => /[#$]$/.test(t.trimEnd()), BOOT_TIMEOUT_MS, ended);
    const seconds = (performance.now() - t0) / 1000;
    await page.click('#serial0');
    await page.keyboard.type('uname -a');
    await page.keyboard.press('Enter');
    const text = await waitForConsole(page, 'serial0', (t) => /uname -a\n.*Linux/.test(t), 60_000, ended);
    expect(text).toMatch(/uname -a\nLinux \S+ \S+/);
    expect(await consoleText(page, 'serial0')).toContain('Linux');
    return seconds;
  }
});
