// A subscription as an async iterator of messages. Over Eddy it is a push subscription
// (SUBSCRIBE): the server pushes batches within the credit this side granted, which is topped
// up as the application takes messages, so a slow reader never holds more than its window.
// Against a server without push it long-polls (one partition) or polls with back-off. After a
// lost connection it subscribes again from the offset after the last message it received:
// nothing lost, nothing twice. Heartbeats missed three times count as a lost connection.
import { Reader, Writer, type Id } from './bytes.js';
import { Command, Frame, Status } from './codes.js';
import type { Connection } from './connection.js';
import { backoff, sleep, unsupported, type Client } from './client.js';
import { ConnectionClosed, IggyError, ProtocolError } from './errors.js';
import { type Message, type Strategy, readPolled, writeConsumer, writeStrategy } from './messages.js';

export interface SubscribeOptions {
  /** The consumer whose offset `next` and auto-commit use; default 1. */
  consumer?: Id;
  /** Where each partition starts; default `next` (after the consumer's stored offset). */
  strategy?: Strategy;
  /** One partition; default every partition of the topic. */
  partition?: number;
  /** Most messages per pushed batch or poll; default 1000. */
  batch?: number;
  /** Store the offset of every batch pushed (what was sent, not what was processed; see
   * `commit()` for the latter). Default false. */
  autoCommit?: boolean;
  /** The credit window: messages and bytes the server may send ahead of the application.
   * Default 1000 messages, 4 MiB. */
  windowMessages?: number;
  windowBytes?: number;
  /** Heartbeats from the server when idle; default 5000 ms (0: none, and no watchdog). */
  heartbeatMs?: number;
  /** Ends the iteration (it throws the signal's reason). */
  signal?: AbortSignal;
}

const FROM_STRATEGY = 0xffff_ffff_ffff_ffffn;
const LONG_POLL_MS = 30_000;

export class Subscription implements AsyncIterableIterator<Message> {
  /** Per partition, the offset after the last message received (queued or taken). */
  readonly positions = new Map<number, number>();
  /** Per partition, the offset of the last message the application took. */
  private readonly taken = new Map<number, number>();
  private queue: Message[] = [];
  private head = 0;
  private queuedBytes = 0;
  private wake: (() => void) | null = null;
  private failure: unknown = null;
  private ended = false;
  private running = false;
  /** 'push' until the server says it does not serve SUBSCRIBE. */
  mode: 'push' | 'long-poll' | 'poll' = 'push';
  private conn: Connection | null = null;
  private id = 0;
  /** Credit granted on this subscription and what arrived against it. */
  private granted = { messages: 0, bytes: 0 };
  private received = { messages: 0, bytes: 0 };
  private consumed = { messages: 0, bytes: 0 };
  private lastFrame = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private onStop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.onStop = resolve));
  private readonly o: Required<Omit<SubscribeOptions, 'partition' | 'signal'>>;

  constructor(
    private readonly client: Client,
    private readonly stream: Id,
    private readonly topic: Id,
    private readonly options: SubscribeOptions,
  ) {
    this.o = {
      consumer: options.consumer ?? 1,
      strategy: options.strategy ?? 'next',
      batch: options.batch ?? 1000,
      autoCommit: options.autoCommit ?? false,
      windowMessages: options.windowMessages ?? 1000,
      windowBytes: options.windowBytes ?? 4 << 20,
      heartbeatMs: options.heartbeatMs ?? 5000,
    };
    options.signal?.addEventListener('abort', () => this.fail(options.signal?.reason), { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Message>> {
    if (!this.running && !this.ended) {
      this.running = true;
      void this.run();
    }
    for (;;) {
      if (this.head < this.queue.length) {
        const m = this.queue[this.head++];
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        }
        this.queuedBytes -= m.size;
        this.taken.set(m.partition, m.offset);
        this.account(m);
        return { value: m, done: false };
      }
      if (this.failure) throw this.failure;
      if (this.ended) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Ends the subscription (UNSUBSCRIBE when pushed); the iteration finishes. */
  async return(): Promise<IteratorResult<Message>> {
    this.stop();
    const conn = this.conn;
    if (conn && !conn.closedWith && this.mode === 'push' && this.id) {
      const w = new Writer().u32(this.id);
      conn.unsubscribe(this.id);
      await conn.request(w.frame(Command.UNSUBSCRIBE), Command.UNSUBSCRIBE).catch(() => {});
    }
    return { value: undefined, done: true };
  }

  close(): Promise<IteratorResult<Message>> {
    return this.return();
  }

  /** Stores, per partition, the offset of the last message the application took. */
  async commit(): Promise<void> {
    for (const [partition, offset] of this.taken) {
      await this.client.storeOffset(this.stream, this.topic, partition, offset, this.o.consumer);
    }
  }

  private stop(): void {
    this.ended = true;
    this.onStop();
    clearInterval(this.watchdog);
    this.notify();
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    this.stop();
    this.conn?.unsubscribe(this.id);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Takes one message off the window; grants credit back once half of it was taken. */
  private account(m: Message): void {
    if (this.mode !== 'push') return this.notify();
    this.consumed.messages++;
    this.consumed.bytes += m.size;
    const { windowMessages: wm, windowBytes: wb } = this.o;
    if (this.consumed.messages * 2 >= wm || this.consumed.bytes * 2 >= wb) {
      this.grant(this.consumed.messages, this.consumed.bytes);
      this.consumed = { messages: 0, bytes: 0 };
    }
  }

  private grant(messages: number, bytes: number): void {
    const conn = this.conn;
    if (!conn || conn.closedWith || !this.id) return;
    this.granted.messages += messages;
    this.granted.bytes += bytes;
    const w = new Writer().u32(this.id).u32(messages).u32(Math.min(bytes, 0xffff_ffff));
    conn.request(w.frame(Command.GRANT_CREDIT), Command.GRANT_CREDIT).catch(() => {});
  }

  /** Queues received messages of one partition in offset order, dropping any already
   * received (never expected; a defence for resumes). */
  private deliver(messages: Message[]): void {
    for (const m of messages) {
      const next = this.positions.get(m.partition);
      if (next !== undefined && m.offset < next) continue;
      this.positions.set(m.partition, m.offset + 1);
      this.queue.push(m);
      this.queuedBytes += m.size;
    }
    if (messages.length) this.notify();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.ended) {
      let conn: Connection;
      try {
        conn = await this.client.connection();
      } catch (e) {
        return this.fail(e);
      }
      try {
        if (this.mode === 'push') await this.push(conn);
        else await this.pollLoop(conn);
        failures = 0;
      } catch (e) {
        if (this.mode === 'push' && unsupported(e)) {
          this.mode = (await this.partitions()).length === 1 ? 'long-poll' : 'poll';
          continue;
        }
        if (e instanceof IggyError || e instanceof ProtocolError) return this.fail(e);
        // A lost connection: the client reconnects; wait a little first when it keeps failing.
        if (failures++ > 0) await sleep(backoff(failures, 100, 5000)).catch(() => {});
      }
    }
  }

  /** The partitions to read: the one asked for, or every partition of the topic. */
  private async partitions(): Promise<number[]> {
    if (this.options.partition !== undefined) return [this.options.partition];
    if (this.positions.size) return [...this.positions.keys()];
    const topic = await this.client.topic(this.stream, this.topic);
    if (!topic) throw new IggyError(Status.TOPIC_ID_NOT_FOUND, Command.GET_TOPIC);
    return topic.partitions.map((p) => p.id);
  }

  /** Subscribes on `conn` and returns when the connection is gone. */
  private async push(conn: Connection): Promise<void> {
    const o = this.o;
    const credit = {
      messages: Math.max(0, o.windowMessages - (this.queue.length - this.head)),
      bytes: Math.max(0, o.windowBytes - this.queuedBytes),
    };
    const w = new Writer();
    writeConsumer(w, o.consumer);
    w.id(this.stream).id(this.topic);
    writeStrategy(w, o.strategy);
    w.u32(o.batch).u8(o.autoCommit ? 1 : 0).u32(credit.messages).u32(credit.bytes).u32(o.heartbeatMs);
    const resume = [...this.positions];
    if (resume.length) {
      w.u32(resume.length);
      for (const [p, next] of resume) w.u32(p).u64(next);
    } else if (this.options.partition !== undefined) {
      w.u32(1).u32(this.options.partition).u64(FROM_STRATEGY);
    } else {
      w.u32(0);
    }
    const closed = new Promise<ConnectionClosed>((resolve) => conn.onClose(resolve));
    const r = new Reader(await conn.request(w.frame(Command.SUBSCRIBE), Command.SUBSCRIBE));
    this.id = r.u32();
    this.conn = conn;
    this.granted = credit;
    this.received = { messages: 0, bytes: 0 };
    this.consumed = { messages: 0, bytes: 0 };
    for (let n = r.u32(); n > 0; n--) {
      const partition = r.u32();
      const start = r.u64();
      if (!this.positions.has(partition)) this.positions.set(partition, start);
    }
    conn.subscribe(this.id, (frame) => this.pushed(frame));
    this.lastFrame = Date.now();
    clearInterval(this.watchdog);
    if (o.heartbeatMs > 0) {
      this.watchdog = setInterval(() => this.checkHeartbeat(conn), o.heartbeatMs);
      (this.watchdog as { unref?: () => void }).unref?.();
    }
    await Promise.race([closed, this.stopped]);
    clearInterval(this.watchdog);
  }

  private checkHeartbeat(conn: Connection): void {
    const owed = this.granted.messages > this.received.messages && this.granted.bytes > this.received.bytes;
    if (owed && Date.now() - this.lastFrame > 3 * this.o.heartbeatMs) conn.close(4000, 'heartbeats missed');
  }

  private pushed(frame: Reader): void {
    this.lastFrame = Date.now();
    const kind = frame.u8();
    if (kind === Frame.MESSAGES) {
      const polled = readPolled(frame);
      this.received.messages += polled.messages.length;
      for (const m of polled.messages) this.received.bytes += m.size;
      if (this.received.messages > this.granted.messages || this.received.bytes > this.granted.bytes) {
        return this.fail(new ProtocolError('the server pushed past the granted credit'));
      }
      this.deliver(polled.messages);
    } else if (kind === Frame.ENDED) {
      const partition = frame.u32();
      const status = frame.u32();
      this.positions.delete(partition);
      if (this.positions.size === 0) this.fail(new IggyError(status, Command.SUBSCRIBE));
    } else if (kind === Frame.STALLED) {
      // The next message is larger than the bytes left: add a window's worth.
      this.grant(0, this.o.windowBytes);
    }
  }

  /** Long polls (one partition) or polls every partition, backing off while all are empty;
   * returns when the connection is gone. */
  private async pollLoop(conn: Connection): Promise<void> {
    const partitions = await this.partitions();
    let idle = 0;
    while (!this.ended && !conn.closedWith) {
      if (this.queue.length - this.head >= this.o.windowMessages) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      let got = 0;
      for (const partition of partitions) {
        const next = this.positions.get(partition);
        const poll = {
          partition,
          consumer: this.o.consumer,
          strategy: next === undefined ? this.o.strategy : { offset: next },
          count: this.o.batch,
          autoCommit: this.o.autoCommit,
        };
        const polled =
          this.mode === 'long-poll'
            ? await this.client.pollDeferred(this.stream, this.topic, { ...poll, waitMs: LONG_POLL_MS }).catch((e) => {
                if (!unsupported(e)) throw e;
                this.mode = 'poll';
                return this.client.poll(this.stream, this.topic, poll);
              })
            : await this.client.poll(this.stream, this.topic, poll);
        if (this.ended) return;
        got += polled.messages.length;
        this.deliver(polled.messages);
      }
      if (got > 0 || this.mode === 'long-poll') idle = 0;
      else await sleep(Math.min(1000, 10 * 2 ** idle++));
    }
  }
}
