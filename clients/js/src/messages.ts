// Messages in Iggy's 0.8 layout: encoding a SEND_MESSAGES body, decoding a poll reply (and a
// pushed batch, which has the same body), user headers, polling strategies and consumers.
// The small layout numbers of these bodies live here; codes and statuses in codes.ts.
import { Reader, Writer, type Id, utf8Bytes } from './bytes.js';
import { MessageLayout, Status } from './codes.js';
import { IggyError, ProtocolError } from './errors.js';

/** Where a poll or a subscription starts. */
export type Strategy = 'first' | 'last' | 'next' | { offset: number } | { timestamp: number };

/** A user header's value with Iggy's kind (1 raw, 2 string, 3 bool, 4–8 int8–int128,
 * 9–13 uint8–uint128, 14 float32, 15 float64). */
export interface HeaderValue {
  kind: number;
  value: Uint8Array;
}

/** Header values as given to `send`: strings, booleans and bytes map to their kinds. */
export type HeaderInput = string | boolean | Uint8Array | HeaderValue;

export const HeaderKind = { RAW: 1, STRING: 2, BOOL: 3 } as const;

/** A message to send. Without `id` one is drawn at random (128 bits). */
export interface SendMessage {
  payload: Uint8Array | string;
  id?: bigint;
  headers?: Record<string, HeaderInput>;
  /** The producer's timestamp, µs since the epoch; default now. */
  originTimestamp?: number;
}

/** One stored message. `payload` is a view into the received frame. */
export interface Message {
  partition: number;
  offset: number;
  id: bigint;
  timestamp: number;
  originTimestamp: number;
  checksum: bigint;
  payload: Uint8Array;
  headers: Map<string, HeaderValue>;
  /** Bytes the message takes on the wire and in storage (header, payload, user headers). */
  size: number;
}

/** A poll reply. */
export interface Polled {
  partition: number;
  currentOffset: number;
  messages: Message[];
}

const PARTITIONING_BALANCED = 1;
const PARTITIONING_ID = 2;
const PARTITIONING_KEY = 3;
const CONSUMER = 1;
const HEADER = MessageLayout.HEADER_LEN;
const text = new TextDecoder();

/** How SEND_MESSAGES picks a partition: one by id, one by key hash, or round robin. */
export type Partitioning = { partition: number } | { key: Uint8Array | string } | 'balanced';

export function writeStrategy(w: Writer, s: Strategy): void {
  if (s === 'first') w.u8(3).u64(0);
  else if (s === 'last') w.u8(4).u64(0);
  else if (s === 'next') w.u8(5).u64(0);
  else if ('offset' in s) w.u8(1).u64(s.offset);
  else w.u8(2).u64(s.timestamp);
}

/** `[kind u8 = consumer][identifier]`. */
export function writeConsumer(w: Writer, consumer: Id): void {
  w.u8(CONSUMER).id(consumer);
}

function writePartitioning(w: Writer, p: Partitioning): void {
  if (p === 'balanced') w.u8(PARTITIONING_BALANCED).u8(0);
  else if ('partition' in p) w.u8(PARTITIONING_ID).u8(4).u32(p.partition);
  else {
    const key = typeof p.key === 'string' ? utf8Bytes(p.key) : p.key;
    if (key.length === 0 || key.length > 255) throw new RangeError('a key takes 1–255 bytes');
    w.u8(PARTITIONING_KEY).u8(key.length).bytes(key);
  }
}

function headerValue(v: HeaderInput): HeaderValue {
  if (typeof v === 'string') return { kind: HeaderKind.STRING, value: utf8Bytes(v) };
  if (typeof v === 'boolean') return { kind: HeaderKind.BOOL, value: Uint8Array.of(v ? 1 : 0) };
  if (v instanceof Uint8Array) return { kind: HeaderKind.RAW, value: v };
  return v;
}

/** Iggy's user headers: per header `[key_kind u8 = string][key_len u32][key][value_kind u8]
 * [value_len u32][value]`. */
export function encodeHeaders(headers: Record<string, HeaderInput>): Uint8Array {
  const w = new Writer(64);
  for (const [key, input] of Object.entries(headers)) {
    const v = headerValue(input);
    const k = utf8Bytes(key);
    w.u8(HeaderKind.STRING).u32(k.length).bytes(k).u8(v.kind).u32(v.value.length).bytes(v.value);
  }
  return w.buf.slice(8, w.len);
}

/** The headers of a block; a malformed block (the server stores what producers send) gives
 * the headers before the damage. */
export function decodeHeaders(block: Uint8Array): Map<string, HeaderValue> {
  const out = new Map<string, HeaderValue>();
  const r = new Reader(block);
  try {
    while (r.remaining > 0) {
      r.u8();
      const key = r.str(r.u32());
      const kind = r.u8();
      out.set(key, { kind, value: r.bytes(r.u32()) });
    }
  } catch {
    // Keep what was readable.
  }
  return out;
}

/** A header's value as text (string headers, and raw ones holding UTF-8). */
export const headerText = (v: HeaderValue | undefined): string | undefined =>
  v && text.decode(v.value);

function randomId(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(4));
  return words.reduce((acc, word) => (acc << 32n) | BigInt(word), 0n);
}

/** The SEND_MESSAGES body: `[metadata_length u32][stream][topic][partitioning][count u32]
 * [index: count × 16 B][messages]`, each message a 64-byte header, its payload and headers. */
export function encodeSend(
  w: Writer,
  stream: Id,
  topic: Id,
  partitioning: Partitioning,
  messages: SendMessage[],
): void {
  if (messages.length === 0) throw new IggyError(Status.INVALID_MESSAGES_COUNT);
  const metaAt = w.len;
  w.u32(0).id(stream).id(topic);
  writePartitioning(w, partitioning);
  w.u32(messages.length);
  w.setU32(metaAt, w.len - metaAt - 4);
  const indexAt = w.len;
  for (let i = 0; i < messages.length; i++) w.u32(0).u32(0).u64(0);
  const start = w.len;
  const now = Date.now() * 1000;
  messages.forEach((m, i) => {
    const payload = typeof m.payload === 'string' ? utf8Bytes(m.payload) : m.payload;
    if (payload.length === 0) throw new IggyError(Status.EMPTY_MESSAGE_PAYLOAD);
    if (payload.length > MessageLayout.MAX_PAYLOAD_LEN) {
      throw new IggyError(Status.TOO_BIG_MESSAGE_PAYLOAD);
    }
    const headers = m.headers ? encodeHeaders(m.headers) : new Uint8Array(0);
    if (headers.length > MessageLayout.MAX_USER_HEADERS_LEN) {
      throw new IggyError(Status.INVALID_MESSAGE_PAYLOAD_LENGTH);
    }
    w.u64(0).u128(m.id ?? randomId()).u64(0).u64(0).u64(m.originTimestamp ?? now);
    w.u32(headers.length).u32(payload.length).u64(0).bytes(payload).bytes(headers);
    w.setU32(indexAt + i * 16 + 4, w.len - start);
  });
}

/** Reads `[partition u32][current_offset u64][count u32]` and `count` stored messages. */
export function readPolled(r: Reader): Polled {
  const partition = r.u32();
  const currentOffset = r.u64();
  const count = r.u32();
  const messages: Message[] = [];
  while (r.remaining > 0) {
    const at = r.pos;
    const checksum = r.big64();
    const id = r.u128();
    const offset = r.u64();
    const timestamp = r.u64();
    const originTimestamp = r.u64();
    const headersLen = r.u32();
    const payloadLen = r.u32();
    r.pos = at + HEADER;
    const payload = r.bytes(payloadLen);
    const headers = headersLen > 0 ? decodeHeaders(r.bytes(headersLen)) : new Map();
    messages.push({
      partition,
      offset,
      id,
      timestamp,
      originTimestamp,
      checksum,
      payload,
      headers,
      size: HEADER + payloadLen + headersLen,
    });
  }
  if (messages.length !== count) throw new ProtocolError('message count does not match');
  return { partition, currentOffset, messages };
}
