// Little-endian encoding into a growable buffer, and a bounds-checked reader over replies.
// Both work on DataView; the reader hands out views into the reply, never copies.
import { ProtocolError } from './errors.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** An Iggy identifier: a number is a numeric id, a string a name. */
export type Id = number | string;

/** Bytes a string takes in UTF-8. */
export const utf8Bytes = (s: string): Uint8Array => utf8.encode(s);

/** Builds one request: the 8-byte frame head `[length u32][code u32]` is filled by `frame`. */
export class Writer {
  buf: Uint8Array;
  view: DataView;
  len = 8;

  constructor(capacity = 128) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Reserves `n` bytes and returns where they start. Callers take the position first, then
   * touch `buf`/`view`: growing replaces both. */
  private room(n: number): number {
    const at = this.len;
    if (at + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, at + n));
      bigger.set(this.buf.subarray(0, at));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    this.len = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.buf[at] = v;
    return this;
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`not a u32: ${v}`);
    const at = this.room(4);
    this.view.setUint32(at, v, true);
    return this;
  }

  u64(v: number | bigint): this {
    if (typeof v === 'number' && (!Number.isSafeInteger(v) || v < 0)) {
      throw new RangeError(`not a u64: ${v}`);
    }
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt(v), true);
    return this;
  }

  u128(v: bigint): this {
    const at = this.room(16);
    this.view.setBigUint64(at, v & 0xffff_ffff_ffff_ffffn, true);
    this.view.setBigUint64(at + 8, (v >> 64n) & 0xffff_ffff_ffff_ffffn, true);
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }

  /** `[len u8][utf-8]`; names are 1–255 bytes. */
  name(s: string): this {
    const b = utf8.encode(s);
    if (b.length === 0 || b.length > 255) throw new RangeError(`a name takes 1–255 bytes: ${s}`);
    return this.u8(b.length).bytes(b);
  }

  /** `[len u32][utf-8]`. */
  longStr(s: string): this {
    const b = utf8.encode(s);
    return this.u32(b.length).bytes(b);
  }

  /** An identifier: `[kind u8: 1 numeric, 2 string][length u8][value]`. */
  id(id: Id): this {
    return typeof id === 'number' ? this.u8(1).u8(4).u32(id) : this.u8(2).name(id);
  }

  /** Overwrites a u32 written earlier. */
  setU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }

  /** The finished request for `code`: a view, no copy. */
  frame(code: number): Uint8Array {
    this.setU32(0, this.len - 4);
    this.setU32(4, code);
    return this.buf.subarray(0, this.len);
  }
}

/** Reads a reply body; any read past its end is a ProtocolError. */
export class Reader {
  private readonly view: DataView;
  pos = 0;

  constructor(readonly body: Uint8Array) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  get remaining(): number {
    return this.body.length - this.pos;
  }

  private take(n: number): number {
    const at = this.pos;
    if (n > this.body.length - at) throw new ProtocolError('reply too short');
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  f32(): number {
    return this.view.getFloat32(this.take(4), true);
  }

  /** A u64 as a number: exact up to 2^53 − 1, a ProtocolError beyond. */
  u64(): number {
    const v = this.view.getBigUint64(this.take(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`u64 past 2^53: ${v}`);
    return Number(v);
  }

  big64(): bigint {
    return this.view.getBigUint64(this.take(8), true);
  }

  u128(): bigint {
    const at = this.take(16);
    return this.view.getBigUint64(at, true) | (this.view.getBigUint64(at + 8, true) << 64n);
  }

  /** A view of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return this.body.subarray(at, at + n);
  }

  str(n: number): string {
    return text.decode(this.bytes(n));
  }

  /** `[len u8][utf-8]`. */
  name(): string {
    return this.str(this.u8());
  }

  /** `[len u32][utf-8]`. */
  longStr(): string {
    return this.str(this.u32());
  }
}
