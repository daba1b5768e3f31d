// The end-to-end suite in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): the page loads the same suite Node runs and reports each case.
import { chromium } from 'playwright-core';
import { startHarness } from './harness.mjs';

const harness = await startHarness();
let failed = 1;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`[chromium] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`[chromium error] ${e.message}`));
  await page.goto(harness.control + '/');
  await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 300_000 });
  const results = await page.evaluate(() => window.__results);
  for (const r of results) console.log(`${r.ok ? 'ok' : 'FAIL'} ${r.name} (${r.ms} ms)${r.ok ? '' : `: ${r.error}`}`);
  failed = results.filter((r) => !r.ok).length;
  console.log(`chromium: ${results.length - failed} of ${results.length} cases passed`);
} finally {
  await browser.close();
  await harness.stop();
}
process.exit(failed ? 1 : 0);
