// What an idle edge consumer costs: runs examples/edge-consumer.mjs in each mode (push
// subscription, a poll every 100 ms, busy polling) against a fresh eddy-server for a quiet
// period, then sends one message and times its arrival. Reports the consumer's and the
// server's CPU over the quiet period and the consumer's RSS, as JSON and a Markdown table in
// bench/results/edge-idle-<unix time>/.
//   node --experimental-websocket examples/idle-cost.mjs [quiet seconds]   (the flag: Node 20)
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client } from '../dist/eddy.js';
import { startHarness, websocketFlags } from '../test/harness.mjs';

const quiet = Number(process.argv[2] ?? 10);
const TICK = 100; // clock ticks per second (/proc's unit)
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
};
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

const harness = await startHarness();
const env = await (await fetch(`${harness.control}/env`)).json();
const rows = [];
let admin;
try {
  admin = await Client.connect(env.url, { username: env.username, password: env.password });
  for (const mode of ['subscribe', 'poll', 'busy']) {
    const stream = await admin.createStream(`edge-${mode}`);
    const topic = await admin.createTopic(stream.id, 'readings', 1);
    const args = [...websocketFlags, new URL('edge-consumer.mjs', import.meta.url).pathname, env.url, env.password, String(stream.id), String(topic.id), '--mode', mode];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const first = new Promise((resolve) => lines.once('line', (l) => resolve(JSON.parse(l))));
    await new Promise((r) => setTimeout(r, 1000)); // connected and settled
    const serverPid = harness.serverPid();
    const [c0, s0] = [cpu(child.pid), cpu(serverPid)];
    await new Promise((r) => setTimeout(r, quiet * 1000));
    const [c1, s1] = [cpu(child.pid), cpu(serverPid)];
    const rss = rssKiB(child.pid);
    const sent = Date.now();
    await admin.send(stream.id, topic.id, [{ payload: 'after the quiet' }]);
    const got = await first;
    child.kill();
    rows.push({
      mode,
      quiet_s: quiet,
      consumer_cpu_ms_per_s: ((c1 - c0) * 1000) / quiet,
      server_cpu_ms_per_s: ((s1 - s0) * 1000) / quiet,
      consumer_rss_kib: rss,
      delivery_ms: got.at - sent,
      received: got.text,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
} finally {
  admin?.close();
  await harness.stop();
}
const dir = new URL(`../../../bench/results/edge-idle-${Math.floor(Date.now() / 1000)}/`, import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}results.json`, JSON.stringify({ node: process.version, rows }, null, 2) + '\n');
const table = [
  '| consumer | its CPU while idle (ms/s) | server CPU while idle (ms/s) | its RSS (KiB) | first message after the quiet (ms) |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.mode} | ${r.consumer_cpu_ms_per_s.toFixed(1)} | ${r.server_cpu_ms_per_s.toFixed(1)} | ${r.consumer_rss_kib} | ${r.delivery_ms} |`),
].join('\n');
writeFileSync(`${dir}results.md`, `Idle edge consumers, ${quiet} s quiet each (CPU from /proc, 10 ms ticks)\n\n${table}\n`);
console.log(table);
console.log(`results: ${dir}`);
