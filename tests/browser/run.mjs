// Drives headless Chromium (Debian's /usr/bin/chromium) with playwright-core: opens the interop
// page and waits for its verdict in the title. Usage: node run.mjs HTTP_URL
import { chromium } from 'playwright-core';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
let verdict = 'FAIL timeout';
try {
  const page = await browser.newPage();
  page.on('console', (msg) => console.log(`[page] ${msg.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => /^(PASS|FAIL)/.test(document.title), null, { timeout: 30000 });
  verdict = await page.title();
} catch (e) {
  verdict = `FAIL ${e.message}`;
} finally {
  await browser.close();
}
console.log(verdict);
process.exit(verdict.startsWith('PASS') ? 0 : 1);
