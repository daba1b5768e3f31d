// The typed API: one method per command. A Client keeps one logged-in connection and opens a
// new one (jittered exponential back-off, login again) when it is lost; requests in flight when
// it drops fail with ConnectionClosed, later ones wait for the new connection.
import { Reader, Writer, type Id } from './bytes.js';
import { Command, Status } from './codes.js';
import { Connection, type WebSocketClass } from './connection.js';
import { ConnectionClosed, EddyError, IggyError } from './errors.js';
import {
  encodeSend,
  readPolled,
  type Partitioning,
  type Polled,
  type SendMessage,
  type Strategy,
  writeConsumer,
  writeStrategy,
} from './messages.js';
import { Subscription, type SubscribeOptions } from './subscription.js';

export interface ClientOptions {
  username: string;
  password: string;
  /** Default: `globalThis.WebSocket`. */
  WebSocket?: WebSocketClass;
  /** Per connection attempt; default 10 s. */
  connectTimeoutMs?: number;
  /** Attempts per (re)connection before giving up (default 20), and the back-off between
   * them: full jitter over an exponential from `minDelayMs` (100) to `maxDelayMs` (5000). */
  reconnect?: { attempts?: number; minDelayMs?: number; maxDelayMs?: number };
  /** Aborting closes the client. */
  signal?: AbortSignal;
}

export interface StreamInfo {
  id: number;
  name: string;
  createdAt: number;
  topicsCount: number;
  sizeBytes: number;
  messagesCount: number;
}

export interface TopicInfo {
  id: number;
  name: string;
  createdAt: number;
  partitionsCount: number;
  messageExpiry: number;
  maxTopicSize: number;
  sizeBytes: number;
  messagesCount: number;
}

export interface PartitionInfo {
  id: number;
  createdAt: number;
  segmentsCount: number;
  currentOffset: number;
  sizeBytes: number;
  messagesCount: number;
}

export interface Stats {
  processId: number;
  cpuUsage: number;
  memoryUsage: number;
  totalMemory: number;
  runTime: number;
  readBytes: number;
  writtenBytes: number;
  streamsCount: number;
  topicsCount: number;
  partitionsCount: number;
  segmentsCount: number;
  messagesCount: number;
  clientsCount: number;
  hostname: string;
  serverVersion: string;
  threadsCount: number;
}

/** One shard's load since start (Eddy only): rates are the caller's deltas. */
export interface ShardStats {
  shard: number;
  connections: number;
  partitions: number;
  messages: number;
  requests: number;
  cpuMicros: number;
}

/** What to poll. */
export interface PollOptions {
  partition?: number;
  consumer?: Id;
  strategy?: Strategy;
  count?: number;
  autoCommit?: boolean;
  signal?: AbortSignal;
}

/** How a long poll waits (POLL_MESSAGES_DEFERRED): until `minCount` messages (default 1) or
 * `maxBytes` of them are there, or `waitMs` passed (the server caps it, 30 s by default). */
export interface WaitOptions {
  waitMs: number;
  minCount?: number;
  maxBytes?: number;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => (clearTimeout(timer), reject(signal?.reason));
    signal?.addEventListener('abort', abort, { once: true });
  });

/** Full jitter over an exponential back-off. */
export const backoff = (attempt: number, min: number, max: number): number =>
  Math.random() * Math.min(max, min * 2 ** Math.min(attempt, 30));

function readStream(r: Reader): StreamInfo {
  const id = r.u32();
  const createdAt = r.u64();
  const topicsCount = r.u32();
  const sizeBytes = r.u64();
  const messagesCount = r.u64();
  return { id, createdAt, topicsCount, sizeBytes, messagesCount, name: r.name() };
}

function readTopic(r: Reader): TopicInfo {
  const id = r.u32();
  const createdAt = r.u64();
  const partitionsCount = r.u32();
  const messageExpiry = r.u64();
  r.u8();
  const maxTopicSize = r.u64();
  r.u8();
  const sizeBytes = r.u64();
  const messagesCount = r.u64();
  const name = r.name();
  return { id, name, createdAt, partitionsCount, messageExpiry, maxTopicSize, sizeBytes, messagesCount };
}

function readPartition(r: Reader): PartitionInfo {
  const id = r.u32();
  const createdAt = r.u64();
  const segmentsCount = r.u32();
  const currentOffset = r.u64();
  const sizeBytes = r.u64();
  return { id, createdAt, segmentsCount, currentOffset, sizeBytes, messagesCount: r.u64() };
}

/** Reads items until the reply ends. */
function list<T>(r: Reader, read: (r: Reader) => T): T[] {
  const out: T[] = [];
  while (r.remaining > 0) out.push(read(r));
  return out;
}

/** `[consumer][stream][topic][has_partition u8 = 1][partition u32]`. */
function offsetKey(w: Writer, consumer: Id, stream: Id, topic: Id, partition: number): Writer {
  writeConsumer(w, consumer);
  return w.id(stream).id(topic).u8(1).u32(partition);
}

export class Client {
  private conn: Connection | null = null;
  private opening: Promise<Connection> | null = null;
  private closed = false;
  private readonly WS: WebSocketClass;

  private constructor(
    readonly url: string,
    private readonly options: ClientOptions,
  ) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
    if (!WS) throw new EddyError('no WebSocket here: pass options.WebSocket');
    this.WS = WS;
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** Connects to `url` (`ws://host:8092` or `wss://…`) and logs in. */
  static async connect(url: string, options: ClientOptions): Promise<Client> {
    const client = new Client(url, options);
    await client.connection();
    return client;
  }

  /** The live, logged-in connection, opening one if needed. A refused login (an IggyError) is
   * not retried. */
  connection(): Promise<Connection> {
    if (this.conn && !this.conn.closedWith) return Promise.resolve(this.conn);
    if (this.closed) return Promise.reject(new ConnectionClosed(1000, 'client closed'));
    this.opening ??= this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async open(): Promise<Connection> {
    const { attempts = 20, minDelayMs = 100, maxDelayMs = 5000 } = this.options.reconnect ?? {};
    for (let attempt = 0; ; attempt++) {
      try {
        const conn = await Connection.open(this.url, this.WS, this.options.connectTimeoutMs ?? 10_000);
        try {
          const w = new Writer().name(this.options.username).name(this.options.password);
          w.longStr('eddy-js').u32(0);
          await conn.request(w.frame(Command.LOGIN_USER), Command.LOGIN_USER);
        } catch (e) {
          conn.close();
          throw e;
        }
        if (this.closed) conn.close();
        this.conn = conn;
        return conn;
      } catch (e) {
        if (e instanceof IggyError || this.closed || attempt + 1 >= attempts) throw e;
        await sleep(backoff(attempt, minDelayMs, maxDelayMs), this.options.signal);
      }
    }
  }

  /** Runs one request; the reply body (a view). */
  async request(code: number, w: Writer = new Writer(), signal?: AbortSignal): Promise<Uint8Array> {
    const conn = await this.connection();
    return conn.request(w.frame(code), code, signal);
  }

  /** Closes the connection; subscriptions end, later requests fail. */
  close(): void {
    this.closed = true;
    this.conn?.close();
  }

  async ping(): Promise<void> {
    await this.request(Command.PING);
  }

  async stats(): Promise<Stats> {
    const r = new Reader(await this.request(Command.GET_STATS));
    const processId = r.u32();
    const cpuUsage = r.f32();
    r.f32();
    const memoryUsage = r.u64();
    const totalMemory = r.u64();
    r.u64();
    const runTime = r.u64();
    r.u64();
    const readBytes = r.u64();
    const writtenBytes = r.u64();
    r.u64();
    const [streamsCount, topicsCount, partitionsCount, segmentsCount] = [r.u32(), r.u32(), r.u32(), r.u32()];
    const messagesCount = r.u64();
    const clientsCount = r.u32();
    r.u32();
    const hostname = r.longStr();
    r.longStr();
    r.longStr();
    r.longStr();
    const serverVersion = r.longStr();
    r.u32();
    // Cache metric entries, 32 bytes each (`[stream u32][topic u32][partition u32][hits u64]
    // [misses u64][hit_ratio f32]`); read the count before moving past them.
    const cacheEntries = r.u32();
    r.pos += 32 * cacheEntries;
    const threadsCount = r.u32();
    return {
      processId, cpuUsage, memoryUsage, totalMemory, runTime, readBytes, writtenBytes,
      streamsCount, topicsCount, partitionsCount, segmentsCount, messagesCount, clientsCount,
      hostname, serverVersion, threadsCount,
    };
  }

  /** Each shard's connections, partitions, messages, requests and CPU time (Eddy's
   * GET_SHARD_STATS; Apache Iggy answers IggyError 3). */
  async shardStats(): Promise<ShardStats[]> {
    const r = new Reader(await this.request(Command.GET_SHARD_STATS));
    r.u32();
    return list(r, () => ({
      shard: r.u32(), connections: r.u32(), partitions: r.u32(), messages: r.u64(), requests: r.u64(), cpuMicros: r.u64(),
    }));
  }

  async streams(): Promise<StreamInfo[]> {
    return list(new Reader(await this.request(Command.GET_STREAMS)), readStream);
  }

  /** A stream and its topics; undefined if there is no such stream. */
  async stream(stream: Id): Promise<(StreamInfo & { topics: TopicInfo[] }) | undefined> {
    const body = await this.request(Command.GET_STREAM, new Writer().id(stream));
    if (body.length === 0) return undefined;
    const r = new Reader(body);
    return { ...readStream(r), topics: list(r, readTopic) };
  }

  async createStream(name: string): Promise<StreamInfo> {
    return readStream(new Reader(await this.request(Command.CREATE_STREAM, new Writer().name(name))));
  }

  async deleteStream(stream: Id): Promise<void> {
    await this.request(Command.DELETE_STREAM, new Writer().id(stream));
  }

  async topics(stream: Id): Promise<TopicInfo[]> {
    return list(new Reader(await this.request(Command.GET_TOPICS, new Writer().id(stream))), readTopic);
  }

  /** A topic and its partitions; undefined if there is no such topic. */
  async topic(stream: Id, topic: Id): Promise<(TopicInfo & { partitions: PartitionInfo[] }) | undefined> {
    const body = await this.request(Command.GET_TOPIC, new Writer().id(stream).id(topic));
    if (body.length === 0) return undefined;
    const r = new Reader(body);
    return { ...readTopic(r), partitions: list(r, readPartition) };
  }

  /** Creates a topic of `partitions` partitions (expiry and size limit: the server's). */
  async createTopic(stream: Id, name: string, partitions = 1): Promise<TopicInfo> {
    const w = new Writer().id(stream).u32(partitions).u8(1).u64(0).u64(0).u8(1).name(name);
    return readTopic(new Reader(await this.request(Command.CREATE_TOPIC, w)));
  }

  async deleteTopic(stream: Id, topic: Id): Promise<void> {
    await this.request(Command.DELETE_TOPIC, new Writer().id(stream).id(topic));
  }

  /** Appends a batch; resolves once the server acknowledged it (durably, with fsync on). */
  async send(
    stream: Id,
    topic: Id,
    messages: SendMessage[],
    partitioning: Partitioning = { partition: 0 },
    signal?: AbortSignal,
  ): Promise<void> {
    const w = new Writer(256 + messages.length * 96);
    encodeSend(w, stream, topic, partitioning, messages);
    await this.request(Command.SEND_MESSAGES, w, signal);
  }

  private pollBody(stream: Id, topic: Id, o: PollOptions): Writer {
    const w = offsetKey(new Writer(), o.consumer ?? 1, stream, topic, o.partition ?? 0);
    writeStrategy(w, o.strategy ?? 'next');
    return w.u32(o.count ?? 100).u8(o.autoCommit ? 1 : 0);
  }

  /** Polls at once (POLL_MESSAGES), possibly nothing. */
  async poll(stream: Id, topic: Id, options: PollOptions = {}): Promise<Polled> {
    const w = this.pollBody(stream, topic, options);
    return readPolled(new Reader(await this.request(Command.POLL_MESSAGES, w, options.signal)));
  }

  /** A long poll (POLL_MESSAGES_DEFERRED). Aborting `options.signal` cancels the wait on the
   * server (CANCEL_DEFERRED_REQUEST) and rejects with the signal's reason. */
  async pollDeferred(stream: Id, topic: Id, options: PollOptions & WaitOptions): Promise<Polled> {
    const w = this.pollBody(stream, topic, options);
    w.u64(Math.round(options.waitMs * 1000)).u32(options.minCount ?? 1).u32(options.maxBytes ?? 0).u64(0);
    const conn = await this.connection();
    const signal = options.signal;
    const cancel = () => {
      conn.request(new Writer().frame(Command.CANCEL_DEFERRED_REQUEST), Command.CANCEL_DEFERRED_REQUEST).catch(() => {});
    };
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const code = Command.POLL_MESSAGES_DEFERRED;
      return readPolled(new Reader(await conn.request(w.frame(code), code, signal)));
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** Stores a consumer's offset on a partition. */
  async storeOffset(stream: Id, topic: Id, partition: number, offset: number, consumer: Id = 1): Promise<void> {
    await this.request(Command.STORE_CONSUMER_OFFSET, offsetKey(new Writer(), consumer, stream, topic, partition).u64(offset));
  }

  /** A consumer's stored offset on a partition, or undefined. */
  async offset(stream: Id, topic: Id, partition: number, consumer: Id = 1): Promise<number | undefined> {
    const body = await this.request(Command.GET_CONSUMER_OFFSET, offsetKey(new Writer(), consumer, stream, topic, partition));
    if (body.length === 0) return undefined;
    const r = new Reader(body);
    r.pos = 12;
    return r.u64();
  }

  /** Messages as they are appended, as an async iterator: pushed by the server with credit
   * (Eddy's SUBSCRIBE), or, against a server without it, long polls (one partition) or polls
   * with back-off. Survives reconnects, resuming after the last message it received. */
  subscribe(stream: Id, topic: Id, options: SubscribeOptions = {}): Subscription {
    return new Subscription(this, stream, topic, options);
  }
}

/** Whether a server's refusal means "this server does not serve that command". */
export const unsupported = (e: unknown): boolean =>
  e instanceof IggyError && (e.code === Status.INVALID_COMMAND || e.code === Status.FEATURE_UNAVAILABLE);
