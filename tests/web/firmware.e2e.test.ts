/**
 * End to end, firmware boot in the page: build apps/web (which copies Debian's SeaBIOS into the build),
 * serve it with `vite preview`, and in headless Chromium upload an El Torito CD (tools/images/iso9660.ts)
 * whose boot sector prints a line on COM1; the line must appear in the xterm.js terminal. Then the dev
 * server without SeaBIOS (TYPEVISOR_SEABIOS=''): the page must say which file it needs and how to
 * provide it, and a BIOS chosen in the picker must reach the machine as -bios. Screenshots go to
 * artifacts/web/. Without /usr/bin/chromium or /usr/share/seabios/bios-256k.bin (both installed by
 * .ci/run) every test here fails, saying which is missing: it cannot run.
 */
import { existsSync, mkdirSync } from 'node:fs';
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
import { bootSector } from '../support/boot-sector.js';
import { missingBiosMessage, SEABIOS_SOURCE } from '../../apps/web/src/firmware.js';
import { makeBootIso } from '../../tools/images/iso9660.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(ROOT, 'artifacts', 'web');
const LINE = 'TYPEVISOR-WEB-CD-BOOTED';
/** SeaBIOS to the boot sector; generous for a loaded 2-core machine (the CLI test allows 240 s). */
const BOOT_TIMEOUT_MS = 600_000;

const iso = {
  name: 'boot.iso',
  mimeType: 'application/octet-stream',
  buffer: Buffer.from(makeBootIso({ bootImage: bootSector(LINE) })),
};

describe('apps/web boots a CD-ROM image through SeaBIOS in headless Chromium', () => {
  let app: ServedApp | undefined;
  let chrome: { context: BrowserContext; close(): Promise<void> } | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `cannot run: chromium is not installed (${CHROMIUM} is absent; apt-get install -y chromium, as .ci/run does)`,
      );
    if (!existsSync(SEABIOS_SOURCE))
      throw new Error(
        `cannot run: SeaBIOS is not installed (${SEABIOS_SOURCE} is absent; apt-get install -y seabios, as .ci/run does)`,
      );
    mkdirSync(ARTIFACTS, { recursive: true });
    // The default SeaBIOS source, whatever the environment running the tests says.
    app = await buildAndServe({ TYPEVISOR_SEABIOS: SEABIOS_SOURCE });
    chrome = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await chrome?.close();
    await app?.close();
  });

  async function open(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await chrome!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    return { page, errors };
  }

  const stateText = async (page: Page) => (await page.locator('#state').textContent()) ?? '';

  it(
    'boots an uploaded El Torito ISO with the served SeaBIOS, and the line its boot sector prints shows on serial0',
    async () => {
      const { page, errors } = await open(app!.url);
      try {
        await page.selectOption('#memory', '32');
        await page.setInputFiles('#cdrom', iso);
        await page.click('#boot');
        await page.waitForFunction(() => document.querySelector('#cmdline')?.textContent !== '');
        expect(await page.locator('#cmdline').textContent()).toBe(
          'typevisor -m 32 -accel kvm,ept=on -cdrom boot.iso -bios bios-256k.bin -boot order=d',
        );
        const ended = async () => {
          const s = await stateText(page);
          const error = (await page.locator('#error').isVisible())
            ? await page.locator('#error').textContent()
            : null;
          if (error !== null) return `the page shows an error: ${error}`;
          const stuck = /not responding for (\d+) s/.exec(s);
          if (s.startsWith('ended') || (stuck !== null && Number(stuck[1]) >= 60)) return `the machine: ${s}`;
          return undefined;
        };
        const t0 = performance.now();
        await waitForConsole(page, 'serial0', (t) => t.includes(LINE), BOOT_TIMEOUT_MS, ended);
        console.log(
          `apps/web: SeaBIOS booted the uploaded ISO to its COM1 line in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        expect((await consoleText(page, 'serial0')).split('\n')).toContain(LINE);
        // The served image is Debian's, and its licence is served beside it.
        const served = await page.evaluate(async () => {
          const bios = await fetch('seabios/bios-256k.bin');
          const copyright = await fetch('seabios/copyright');
          return { size: (await bios.arrayBuffer()).byteLength, licence: await copyright.text() };
        });
        expect(served.size).toBe(262144);
        expect(served.licence).toContain('LGPL');
        // SeaBIOS ran the served VGA BIOS (vgabios-stdvga.bin): its banner is on the VGA canvas.
        const vga = await page.evaluate(
          async () => (await (await fetch('seabios/vgabios-stdvga.bin')).arrayBuffer()).byteLength,
        );
        expect(vga).toBeGreaterThan(16384);
        expect((await litPixels(page, join(ARTIFACTS, 'iso-boot-vga.png'))).lit).toBeGreaterThan(300);
        expect(errors).toEqual([]);
      } finally {
        await page.screenshot({ path: join(ARTIFACTS, 'iso-boot.png'), fullPage: true });
        await page.close();
      }
    },
    BOOT_TIMEOUT_MS + 120_000,
  );

  it('without a served SeaBIOS, names the file it needs and how to provide it; a chosen BIOS goes to the machine as -bios', async () => {
    const dev = await serveDev({ TYPEVISOR_SEABIOS: '' });
    try {
      const { page, errors } = await open(dev.url);
      await page.setInputFiles('#cdrom', iso);
      await page.click('#boot');
      const error = page.locator('#error');
      await error.waitFor({ state: 'visible', timeout: 60_000 });
      expect(await error.textContent()).toBe(missingBiosMessage());
      expect(await stateText(page)).toBe('no machine');
      expect(await page.locator('#progress-box').isVisible()).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, 'iso-missing-bios.png'), fullPage: true });

      // The BIOS picker: the user's file is sent as -bios and checked by the machine (a bad size here).
      await page.setInputFiles('#bios', {
        name: 'odd.bin',
        mimeType: 'application/octet-stream',
        buffer: Buffer.alloc(65536 + 512),
      });
      await page.click('#boot');
      await page.waitForFunction(() => document.querySelector('#error')?.textContent?.includes('odd.bin'));
      expect(await error.textContent()).toBe(
        'typevisor: -bios odd.bin: the image is 66048 bytes, not a whole number of 64 KiB blocks',
      );
      expect(await page.locator('#cmdline').textContent()).toBe(
        'typevisor -m 128 -accel kvm,ept=on -cdrom boot.iso -bios odd.bin -boot order=d',
      );
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await dev.close();
    }
  }, 180_000);
});
