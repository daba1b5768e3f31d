// The dashboard in headless Chromium (Debian's /usr/bin/chromium via playwright-core) against a
// real eddy-server holding data: the page and its files come from the server's WebSocket port
// with their security headers, a wrong password is refused on the page, the right one logs in,
// the streams table and per-shard load fill in, the live tail shows a message a producer sends
// after the page opened and one sent from the page's own form, JSON view pretty-prints, and the
// page fits a phone-sized window. Asserts on the DOM; screenshots go to target/dashboard/.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client } from '../../js/dist/eddy.js';
import { startHarness } from '../../js/test/harness.mjs';

const shots = new URL('../../../target/dashboard/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

const harness = await startHarness();
const env = await (await fetch(harness.control + '/env')).json();
const pageUrl = env.url.replace(/^ws:/, 'http:') + '/';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
});
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};
const producer = await Client.connect(env.url, { username: env.username, password: env.password });
try {
  const stream = await producer.createStream('dashboard-demo');
  const topic = await producer.createTopic(stream.id, 'events', 2);
  const early = Array.from({ length: 40 }, (_, i) => ({ payload: JSON.stringify({ n: i, kind: 'early' }) }));
  await producer.send(stream.id, topic.id, early, 'balanced');

  const head = await fetch(pageUrl);
  const csp = head.headers.get('content-security-policy') ?? '';
  check(head.status === 200 && csp.includes("frame-ancestors 'none'") && head.headers.get('x-content-type-options') === 'nosniff',
    `the page is served by eddy-server with its security headers (${head.status}, ${csp})`);
  check((await fetch(env.url.replace(/^ws:/, 'http:') + '/nope')).status === 404, 'an unknown path is 404');

  for (const [name, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
    const page = await browser.newPage({ viewport });
    const errors = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pageUrl);

    await page.fill('input[name=password]', 'wrong-' + randomBytes(4).toString('hex'));
    await page.click('#login-form button');
    await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('Login failed'), null, { timeout: 15_000 });
    check(await page.isVisible('#login'), `${name}: a wrong password keeps the login form, with "${await page.textContent('#login-error')}"`);
    errors.length = 0; // the refused login logs the server's close in the console

    await page.fill('input[name=password]', env.password);
    await page.click('#login-form button');
    await page.waitForSelector('tr[data-topic="dashboard-demo/events"]', { timeout: 15_000 });
    check(await page.isHidden('#login'), `${name}: logged in`);
    await page.waitForFunction(() => document.querySelectorAll('#shards-rows tr').length === 2, null, { timeout: 10_000 });
    check(true, `${name}: per-shard load lists both shards`);
    const cards = await page.textContent('#cards');
    check(cards.includes('Connections') && cards.includes('Memory'), `${name}: server stats shown (${cards.slice(0, 120)}…)`);

    await page.click('tr[data-topic="dashboard-demo/events"] button');
    await page.waitForFunction(() => document.getElementById('tail-state').textContent.startsWith('following'), null, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#partitions-rows tr').length === 2, null, { timeout: 10_000 });
    check(true, `${name}: choosing the topic lists its two partitions and starts the tail`);
    // Let the subscription reach the server before the probe is sent.
    await page.waitForFunction(() => document.querySelectorAll('#tail-rows li').length > 0, null, { timeout: 10_000 });

    const probe = `probe-${name}-${randomBytes(6).toString('hex')}`;
    await producer.send(stream.id, topic.id, [{ payload: JSON.stringify({ probe, at: Date.now() }), headers: { source: 'test' } }], 'balanced');
    await page.waitForFunction((p) => document.getElementById('tail-rows').textContent.includes(p), probe, { timeout: 15_000 });
    check(true, `${name}: the live tail shows a message sent after the page opened`);

    const own = `from-the-page-${name}`;
    await page.fill('#send-payload', own);
    await page.click('#send-button');
    await page.waitForFunction((p) => document.getElementById('tail-rows').firstElementChild?.textContent.includes(p), own, { timeout: 15_000 });
    check((await page.textContent('#send-result')).startsWith('sent'), `${name}: a test message sent from the page arrives in the tail`);

    await page.selectOption('#tail-view', 'json');
    const pretty = await page.textContent('#tail-rows');
    check(pretty.includes(`"probe": "${probe}"`), `${name}: JSON view pretty-prints`);
    await page.selectOption('#tail-view', 'text');

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${name}: no horizontal overflow (${overflow} px)`);
    check(errors.length === 0, `${name}: no console errors (CSP included)${errors.length ? ': ' + errors.join(' | ') : ''}`);
    await page.screenshot({ path: `${shots}dashboard-${name}.png`, fullPage: true });
    await page.close();
  }
} finally {
  producer.close();
  await browser.close();
  await harness.stop();
}
console.log(`dashboard: ${failures === 0 ? 'all checks passed' : `${failures} checks failed`}; screenshots in ${shots}`);
process.exit(failures ? 1 : 0);
