// The end-to-end suite, run by Node (e2e.test.ts) and by Chromium (browser.ts) against the same
// kind of server (harness.mjs). Plain asserts: no test library in the browser.
import { Client, ConnectionClosed, IggyError, Status, headerText, type Message, type SendMessage } from '../src/index.js';

export interface Env {
  url: string;
  username: string;
  password: string;
  maxRequestSize: number;
  /** Kills the server (SIGKILL) and starts it again on the same data. */
  restart(): Promise<void>;
}

export interface Case {
  name: string;
  run(env: Env): Promise<void>;
}

export function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`check failed: ${what}`);
}

export function equal<T>(got: T, want: T, what: string): void {
  if (got !== want) throw new Error(`${what}: got ${String(got)}, want ${String(want)}`);
}

async function rejects(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: did not fail`);
}

let unique = 0;
const name = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const connect = (env: Env) => Client.connect(env.url, { username: env.username, password: env.password });

/** A deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function take(sub: AsyncIterator<Message>, n: number, ms = 20_000): Promise<Message[]> {
  const out: Message[] = [];
  const until = Date.now() + ms;
  while (out.length < n) {
    if (Date.now() > until) throw new Error(`only ${out.length} of ${n} messages arrived`);
    const r = await sub.next();
    if (r.done) throw new Error('subscription ended');
    out.push(r.value);
  }
  return out;
}

async function withTopic<T>(env: Env, partitions: number, body: (c: Client, stream: number, topic: number) => Promise<T>): Promise<T> {
  const c = await connect(env);
  const s = await c.createStream(name('s'));
  const t = await c.createTopic(s.id, 'events', partitions);
  try {
    return await body(c, s.id, t.id);
  } finally {
    await c.deleteStream(s.id).catch(() => {});
    c.close();
  }
}

export const cases: Case[] = [
  {
    name: 'a wrong password is refused with Iggy code 42',
    async run(env) {
      const e = await rejects(Client.connect(env.url, { username: env.username, password: 'wrong' }), 'wrong password');
      check(e instanceof IggyError, `an IggyError, not ${String(e)}`);
      equal(e.code, Status.INVALID_CREDENTIALS, 'code');
    },
  },
  {
    name: 'streams and topics: create, list, get, delete',
    async run(env) {
      const c = await connect(env);
      const sname = name('crud');
      const s = await c.createStream(sname);
      equal(s.name, sname, 'stream name');
      const t = await c.createTopic(s.id, 'orders', 3);
      equal(t.partitionsCount, 3, 'partitions');
      check((await c.streams()).some((x) => x.id === s.id && x.name === sname), 'listed');
      const got = await c.stream(sname);
      equal(got?.topics.length, 1, 'topics of the stream');
      equal((await c.topic(s.id, 'orders'))?.partitions.length, 3, 'partitions listed');
      equal((await c.topics(s.id))[0].name, 'orders', 'topic listed');
      const [stats, shards] = [await c.stats(), await c.shardStats()];
      equal(shards.length, stats.threadsCount, 'one load entry per shard');
      equal(shards.reduce((n, x) => n + x.partitions, 0), stats.partitionsCount, 'partitions over shards');
      check(shards.some((x) => x.requests > 0 && x.connections > 0), `requests counted: ${JSON.stringify(shards)}`);
      const dup = await rejects(c.createStream(sname), 'duplicate');
      check(dup instanceof IggyError && dup.code === Status.STREAM_NAME_ALREADY_EXISTS, `duplicate: ${String(dup)}`);
      await c.deleteTopic(s.id, t.id);
      await c.deleteStream(s.id);
      equal(await c.stream(s.id), undefined, 'a deleted stream');
      const gone = await rejects(c.topics(s.id), 'topics of a deleted stream');
      check(gone instanceof IggyError && gone.code === Status.STREAM_ID_NOT_FOUND, `deleted: ${String(gone)}`);
      c.close();
    },
  },
  {
    name: '10,000 messages of random sizes with headers come back byte for byte',
    async run(env) {
      await withTopic(env, 1, async (c, s, t) => {
        const random = rng(12345);
        const sent: SendMessage[] = [];
        for (let i = 0; i < 10_000; i++) {
          const payload = new Uint8Array(1 + Math.floor(random() * 2000));
          for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(random() * 256);
          sent.push({ id: BigInt(i + 1) << 64n | 7n, payload, headers: { seq: String(i), even: i % 2 === 0 } });
        }
        for (let i = 0; i < sent.length; i += 250) await c.send(s, t, sent.slice(i, i + 250));
        let offset = 0;
        while (offset < sent.length) {
          const polled = await c.poll(s, t, { strategy: { offset }, count: 1000 });
          check(polled.messages.length > 0, `messages at ${offset}`);
          for (const m of polled.messages) {
            const want = sent[m.offset];
            equal(m.offset, offset, 'offset');
            equal(m.id, want.id, `id at ${offset}`);
            check(sameBytes(m.payload, want.payload as Uint8Array), `payload at ${offset}`);
            equal(headerText(m.headers.get('seq')), String(offset), 'seq header');
            equal(m.headers.get('even')?.value[0], offset % 2 === 0 ? 1 : 0, 'bool header');
            offset++;
          }
        }
        equal(offset, 10_000, 'read back');
      });
    },
  },
  {
    name: 'poll strategies and consumer offsets',
    async run(env) {
      await withTopic(env, 2, async (c, s, t) => {
        // Two batches a few ms apart: a batch's messages share one timestamp.
        const msgs = Array.from({ length: 10 }, (_, i) => ({ payload: `m${i}` }));
        await c.send(s, t, msgs.slice(0, 7), { partition: 1 });
        await new Promise((r) => setTimeout(r, 5));
        await c.send(s, t, msgs.slice(7), { partition: 1 });
        const text = (ms: Message[]) => ms.map((m) => new TextDecoder().decode(m.payload)).join(',');
        equal(text((await c.poll(s, t, { partition: 1, strategy: 'first', count: 2 })).messages), 'm0,m1', 'first');
        equal(text((await c.poll(s, t, { partition: 1, strategy: 'last', count: 2 })).messages), 'm8,m9', 'last');
        equal(text((await c.poll(s, t, { partition: 1, strategy: { offset: 5 }, count: 1 })).messages), 'm5', 'offset');
        const all = (await c.poll(s, t, { partition: 1, strategy: 'first', count: 10 })).messages;
        const at = all[7].timestamp;
        equal((await c.poll(s, t, { partition: 1, strategy: { timestamp: at }, count: 1 })).messages[0].offset, 7, 'timestamp');
        equal(await c.offset(s, t, 1, 9), undefined, 'no offset yet');
        equal(text((await c.poll(s, t, { partition: 1, consumer: 9, strategy: 'next', count: 3, autoCommit: true })).messages), 'm0,m1,m2', 'next');
        equal(await c.offset(s, t, 1, 9), 2, 'auto-committed');
        equal(text((await c.poll(s, t, { partition: 1, consumer: 9, strategy: 'next', count: 2 })).messages), 'm3,m4', 'next again');
        await c.storeOffset(s, t, 1, 8, 9);
        equal(text((await c.poll(s, t, { partition: 1, consumer: 9, strategy: 'next', count: 5 })).messages), 'm9', 'after stored');
        equal((await c.poll(s, t, { partition: 0, strategy: 'first' })).messages.length, 0, 'other partition empty');
      });
    },
  },
  {
    name: 'a long poll waits for a send from another client; aborting cancels it',
    async run(env) {
      await withTopic(env, 1, async (c, s, t) => {
        const other = await connect(env);
        const started = Date.now();
        const waiting = c.pollDeferred(s, t, { strategy: 'first', waitMs: 10_000 });
        await new Promise((r) => setTimeout(r, 200));
        await other.send(s, t, [{ payload: 'wake' }]);
        const got = await waiting;
        equal(got.messages.length, 1, 'woken with the message');
        check(Date.now() - started < 5000, 'answered before the wait ended');
        const abort = new AbortController();
        const cancelled = c.pollDeferred(s, t, { strategy: { offset: 1 }, waitMs: 10_000, signal: abort.signal });
        setTimeout(() => abort.abort(new Error('stop')), 100);
        const e = await rejects(cancelled, 'aborted poll');
        check(e instanceof Error && e.message === 'stop', `the abort reason: ${String(e)}`);
        await c.ping(); // the connection is still usable after the cancel
        other.close();
      });
    },
  },
  {
    name: 'subscribe: pushed in order within credit, on every partition',
    async run(env) {
      await withTopic(env, 3, async (c, s, t) => {
        const sub = c.subscribe(s, t, { strategy: 'first', windowMessages: 20, windowBytes: 1 << 20, batch: 7 });
        const producer = await connect(env);
        for (let p = 0; p < 3; p++) {
          await producer.send(s, t, Array.from({ length: 100 }, (_, i) => ({ payload: `${p}:${i}` })), { partition: p });
        }
        const got = await take(sub, 300);
        equal(sub.mode, 'push', 'pushed, not polled');
        for (let p = 0; p < 3; p++) {
          const offsets = got.filter((m) => m.partition === p).map((m) => m.offset);
          equal(offsets.join(','), Array.from({ length: 100 }, (_, i) => i).join(','), `partition ${p} in order`);
        }
        await sub.return();
        producer.close();
      });
    },
  },
  {
    name: 'subscribe resumes after the server is killed and restarted: nothing lost or repeated',
    async run(env) {
      await withTopic(env, 1, async (c, s, t) => {
        const sub = c.subscribe(s, t, { strategy: 'first', heartbeatMs: 500 });
        await c.send(s, t, Array.from({ length: 50 }, (_, i) => ({ payload: `a${i}` })));
        const before = await take(sub, 50);
        await env.restart();
        const producer = await connect(env);
        await producer.send(s, t, Array.from({ length: 50 }, (_, i) => ({ payload: `b${i}` })));
        const after = await take(sub, 50, 60_000);
        const offsets = [...before, ...after].map((m) => m.offset);
        equal(offsets.join(','), Array.from({ length: 100 }, (_, i) => i).join(','), 'every offset once, in order');
        equal(new TextDecoder().decode(after[0].payload), 'b0', 'the first message after the restart');
        await sub.commit();
        equal(await producer.offset(s, t, 0, 1), 99, 'commit stored the last message taken');
        await sub.return();
        producer.close();
      });
    },
  },
  {
    name: 'a message over the server limit closes with 1009 and the client goes on',
    async run(env) {
      await withTopic(env, 1, async (c, s, t) => {
        const big = new Uint8Array(env.maxRequestSize + 1);
        const e = await rejects(c.send(s, t, [{ payload: big }]), 'oversized send');
        check(e instanceof ConnectionClosed, `ConnectionClosed, not ${String(e)}`);
        equal(e.closeCode, 1009, 'close code');
        await c.send(s, t, [{ payload: 'small' }]);
        equal((await c.poll(s, t, { strategy: 'first' })).messages.length, 1, 'the client reconnected; only the small one stored');
        const empty = await rejects(c.send(s, t, [{ payload: '' }]), 'empty payload');
        check(empty instanceof IggyError && empty.code === Status.EMPTY_MESSAGE_PAYLOAD, `empty: ${String(empty)}`);
      });
    },
  },
];
