// Unit tests without a server: byte layouts, the reader's bounds, the connection's reply and
// push routing, and the subscription's credit guard, against a scripted fake WebSocket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reader, Writer } from '../src/bytes.js';
import { Client, Command, ConnectionClosed, IggyError, ProtocolError, Status } from '../src/index.js';
import { encodeHeaders, encodeSend, readPolled } from '../src/messages.js';

const u32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24];
const bytes = (s: string) => [...new TextEncoder().encode(s)];

test('a login request is framed [length][code][payload]', () => {
  const w = new Writer().name('iggy').name('pw').longStr('v').u32(0);
  const frame = [...w.frame(Command.LOGIN_USER)];
  const payload = [4, ...bytes('iggy'), 2, ...bytes('pw'), ...u32(1), ...bytes('v'), ...u32(0)];
  assert.deepEqual(frame, [...u32(4 + payload.length), ...u32(38), ...payload]);
});

test('identifiers: numbers are numeric ids, strings names', () => {
  const w = new Writer().id(7).id('ab');
  assert.deepEqual([...w.buf.subarray(8, w.len)], [1, 4, ...u32(7), 2, 2, ...bytes('ab')]);
  assert.throws(() => new Writer().id(''), RangeError);
  assert.throws(() => new Writer().u32(-1), RangeError);
  assert.throws(() => new Writer().u64(2 ** 53), RangeError);
});

test("user headers use Iggy's layout", () => {
  const block = encodeHeaders({ k: 'v', b: true });
  assert.deepEqual([...block], [2, ...u32(1), ...bytes('k'), 2, ...u32(1), ...bytes('v'), 2, ...u32(1), ...bytes('b'), 3, ...u32(1), 1]);
});

test('a send body: metadata, an index of cumulative ends, 64-byte headers; it reads back', () => {
  const w = new Writer();
  const messages = [
    { id: 5n, payload: 'abc', originTimestamp: 9, headers: { h: 'x' } },
    { id: (1n << 100n) + 3n, payload: new Uint8Array([1, 2]) },
  ];
  encodeSend(w, 1, 'topic', { partition: 2 }, messages);
  const r = new Reader(w.buf.subarray(8, w.len));
  const metadata = r.u32();
  const start = r.pos;
  assert.deepEqual([r.u8(), r.u8(), r.u32()], [1, 4, 1]);
  assert.deepEqual([r.u8(), r.name()], [2, 'topic']);
  assert.deepEqual([r.u8(), r.u8(), r.u32()], [2, 4, 2]);
  assert.equal(r.u32(), 2);
  assert.equal(r.pos - start, metadata);
  const first = 64 + 3 + encodeHeaders({ h: 'x' }).length;
  assert.deepEqual([r.u32(), r.u32(), r.u64()], [0, first, 0]);
  assert.deepEqual([r.u32(), r.u32(), r.u64()], [0, first + 66, 0]);
  // A poll reply carries the same message bytes after [partition][current_offset][count].
  const reply = new Writer().u32(2).u64(1).u32(2).bytes(r.bytes(r.remaining));
  const polled = readPolled(new Reader(reply.buf.subarray(8, reply.len)));
  assert.equal(polled.messages.length, 2);
  assert.equal(polled.messages[0].id, 5n);
  assert.equal(polled.messages[0].originTimestamp, 9);
  assert.equal(new TextDecoder().decode(polled.messages[0].payload), 'abc');
  assert.equal(new TextDecoder().decode(polled.messages[0].headers.get('h')!.value), 'x');
  assert.equal(polled.messages[1].id, (1n << 100n) + 3n);
  assert.deepEqual([...polled.messages[1].payload], [1, 2]);
  assert.equal(polled.messages[1].size, 66);
  // A count that does not match, or a cut message, is the server's fault.
  reply.setU32(8 + 12, 3);
  assert.throws(() => readPolled(new Reader(reply.buf.subarray(8, reply.len))), ProtocolError);
  assert.throws(() => readPolled(new Reader(reply.buf.subarray(8, reply.len - 1))), ProtocolError);
});

test('the reader never reads past a reply and refuses u64s past 2^53', () => {
  assert.throws(() => new Reader(new Uint8Array(3)).u32(), ProtocolError);
  const big = new Writer().u64(2n ** 60n);
  assert.throws(() => new Reader(big.buf.subarray(8, big.len)).u64(), ProtocolError);
});

/** A scripted server behind the WebSocket interface: answers by command code. */
class FakeSocket {
  static last: FakeSocket;
  static script: (code: number, body: Reader, socket: FakeSocket) => void;
  binaryType = 'blob';
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: ArrayBuffer }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  closed: number | null = null;

  constructor(readonly url: string) {
    FakeSocket.last = this;
    setTimeout(() => this.onopen?.(), 0);
  }

  send(frame: Uint8Array): void {
    const r = new Reader(frame);
    r.u32();
    const code = r.u32();
    FakeSocket.script(code, r, this);
  }

  reply(status: number, body: Uint8Array = new Uint8Array(0)): void {
    const out = new Uint8Array(8 + body.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, status, true);
    view.setUint32(4, body.length, true);
    out.set(body, 8);
    setTimeout(() => this.onmessage?.({ data: out.buffer }), 0);
  }

  close(code = 1000, reason = ''): void {
    if (this.closed !== null) return;
    this.closed = code;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}

const fake = (script: typeof FakeSocket.script) => {
  FakeSocket.script = script;
  return Client.connect('ws://fake', { username: 'u', password: 'p', WebSocket: FakeSocket as never, reconnect: { attempts: 1 } });
};
const body = (w: Writer) => w.buf.subarray(8, w.len);

test('replies resolve in request order; an error status is an IggyError with its code', async () => {
  const c = await fake((code, _r, s) => {
    if (code === Command.LOGIN_USER) s.reply(0, body(new Writer().u32(1)));
    else if (code === Command.PING) s.reply(0);
    else s.reply(Status.STREAM_ID_NOT_FOUND);
  });
  const [a, b, e] = await Promise.allSettled([c.ping(), c.stream(1), c.ping()]);
  assert.equal(a.status, 'fulfilled');
  assert.ok(b.status === 'rejected' && b.reason instanceof IggyError && b.reason.code === 1009);
  assert.equal(e.status, 'fulfilled');
});

test('an aborted request rejects with the reason and its late reply is skipped', async () => {
  let pings = 0;
  const c = await fake((code, _r, s) => {
    if (code === Command.LOGIN_USER) return s.reply(0, body(new Writer().u32(1)));
    pings++;
    if (pings === 1) setTimeout(() => s.reply(0, body(new Writer().u32(111))), 30);
    else setTimeout(() => s.reply(0), 40);
  });
  const abort = new AbortController();
  const first = c.request(Command.GET_STATS, new Writer(), abort.signal);
  const second = c.ping();
  abort.abort(new Error('gone'));
  await assert.rejects(first, /gone/);
  await second;
});

test('a malformed reply closes the connection (1002) and fails what is pending', async () => {
  const c = await fake((code, _r, s) => {
    if (code === Command.LOGIN_USER) return s.reply(0, body(new Writer().u32(1)));
    setTimeout(() => s.onmessage?.({ data: new Uint8Array([0, 0, 0, 0, 9, 0, 0, 0]).buffer }), 0);
  });
  const e = await c.ping().catch((x) => x);
  assert.ok(e instanceof ConnectionClosed && e.closeCode === 1002, String(e));
  assert.equal(FakeSocket.last.closed, 1002);
});

test('a push past the granted credit ends the subscription with a ProtocolError', async () => {
  const c = await fake((code, _r, s) => {
    if (code === Command.LOGIN_USER) return s.reply(0, body(new Writer().u32(1)));
    if (code !== Command.SUBSCRIBE) return s.reply(0);
    s.reply(0, body(new Writer().u32(1).u32(1).u32(0).u64(0)));
    // Two messages when one was granted.
    const messages = new Writer();
    encodeSend(messages, 1, 1, 'balanced', [{ payload: 'a' }, { payload: 'b' }]);
    const all = body(messages);
    const msgs = all.subarray(all.length - 2 * 65);
    s.reply(Status.PUSH_FRAME, body(new Writer().u32(1).u8(1).u32(0).u64(1).u32(2).bytes(msgs)));
  });
  const sub = c.subscribe(1, 1, { windowMessages: 1, heartbeatMs: 0 });
  await assert.rejects(sub.next(), ProtocolError);
});
