// The end-to-end suite in a browser page: runs every case in order and leaves the results on
// `window.__results` for test/run-browser.mjs.
import { cases, type Env } from './suite.js';

const log = (line: string) => {
  document.getElementById('log')!.textContent += line + '\n';
  console.log(line);
};
const env: Env = {
  ...(await (await fetch('/env')).json()),
  restart: async () => void (await fetch('/restart', { method: 'POST' })),
};
const results: { name: string; ok: boolean; ms: number; error?: string }[] = [];
for (const c of cases) {
  const started = performance.now();
  try {
    await c.run(env);
    results.push({ name: c.name, ok: true, ms: Math.round(performance.now() - started) });
  } catch (e) {
    results.push({ name: c.name, ok: false, ms: Math.round(performance.now() - started), error: String((e as Error)?.stack ?? e) });
  }
  log(`${results.at(-1)!.ok ? 'ok' : 'FAIL'} ${c.name}`);
}
(window as unknown as { __results: unknown }).__results = results;
