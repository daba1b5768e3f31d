// An edge consumer: subscribe, process, commit. With `--mode poll` it polls every 100 ms
// instead, and with `--mode busy` back to back (what Iggy's SDK consumer does by default), for
// comparison (examples/idle-cost.mjs measures all three).
//   node --experimental-websocket examples/edge-consumer.mjs ws://127.0.0.1:8092 <password> <stream> <topic>
import { Client, sleep } from '../dist/eddy.js';

const [url, password, stream, topic] = process.argv.slice(2);
const mode = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'subscribe';
const client = await Client.connect(url, { username: 'iggy', password });
const ids = (s) => (/^\d+$/.test(s) ? Number(s) : s);
const [s, t] = [ids(stream), ids(topic)];
const handle = (m) => console.log(JSON.stringify({ offset: m.offset, text: new TextDecoder().decode(m.payload), at: Date.now() }));

if (mode === 'subscribe') {
  const sub = client.subscribe(s, t, { consumer: 7, strategy: 'next' });
  for await (const m of sub) {
    handle(m);
    await sub.commit(); // stores the offset of the message just processed
  }
} else {
  for (;;) {
    const polled = await client.poll(s, t, { consumer: 7, strategy: 'next', count: 100, autoCommit: true });
    polled.messages.forEach(handle);
    if (mode === 'poll' && polled.messages.length === 0) await sleep(100);
  }
}
