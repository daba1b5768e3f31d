// One WebSocket to the server: requests go out as binary messages, replies come back one per
// binary message in request order, and pushed frames (status PUSH_FRAME) go to the subscription
// they name. Knows nothing of commands beyond that.
import { Reader } from './bytes.js';
import { Status } from './codes.js';
import { ConnectionClosed, IggyError } from './errors.js';

/** The WebSocket constructor to use: the browser's, Node's global one (Node 22+, or Node 20
 * with `--experimental-websocket`), or any with the same shape. */
export type WebSocketClass = new (url: string) => WebSocket;

interface Pending {
  code: number;
  resolve(body: Uint8Array): void;
  reject(e: Error): void;
}

const MAX_EARLY_FRAMES = 256;

/** What a subscription does with the frames pushed to it: the body after the subscription id. */
export type PushHandler = (frame: Reader) => void;

export class Connection {
  /** In request order; an entry set to null was abandoned (its signal aborted). */
  private queue: (Pending | null)[] = [];
  private head = 0;
  closedWith: ConnectionClosed | null = null;
  private readonly subscriptions = new Map<number, PushHandler>();
  /** Frames for a subscription not registered yet: its SUBSCRIBE reply resolves in a
   * microtask, and some WebSocket implementations (Node's) dispatch the frames behind it
   * before that runs. Bounded; the oldest go first. */
  private early: Reader[] = [];
  private readonly closeListeners: ((e: ConnectionClosed) => void)[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (ev: MessageEvent) => this.receive(ev.data);
    ws.onclose = (ev: CloseEvent) => this.lost(new ConnectionClosed(ev.code, ev.reason));
  }

  /** Opens `url`; rejects with ConnectionClosed when it cannot within `timeoutMs`. */
  static open(url: string, WS: WebSocketClass, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const ws = new WS(url);
      ws.binaryType = 'arraybuffer';
      const timer = setTimeout(() => {
        ws.close();
        reject(new ConnectionClosed(1006, 'connect timed out'));
      }, timeoutMs);
      ws.onerror = () => {};
      ws.onclose = (ev: CloseEvent) => {
        clearTimeout(timer);
        reject(new ConnectionClosed(ev.code, ev.reason || 'could not connect'));
      };
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(new Connection(ws));
      };
    });
  }

  /** Sends one framed request; resolves with the reply body (a view) or rejects with the
   * server's IggyError, a ConnectionClosed, or the signal's reason. */
  request(frame: Uint8Array, code: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const abort = () => {
        const at = this.queue.indexOf(entry, this.head);
        if (at >= 0) this.queue[at] = null;
        reject(signal?.reason);
      };
      const settled = () => signal?.removeEventListener('abort', abort);
      const entry: Pending = {
        code,
        resolve: (body) => (settled(), resolve(body)),
        reject: (e) => (settled(), reject(e)),
      };
      this.queue.push(entry);
      this.ws.send(frame);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** Calls `listener` once, when the connection is gone. */
  onClose(listener: (e: ConnectionClosed) => void): void {
    if (this.closedWith) listener(this.closedWith);
    else this.closeListeners.push(listener);
  }

  close(code = 1000, reason = ''): void {
    this.ws.close(code, reason);
    this.lost(new ConnectionClosed(code, reason || 'closed by the client'));
  }

  private receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 8) {
      return this.violation('a reply must be one binary message of 8 bytes or more');
    }
    const view = new DataView(data);
    const status = view.getUint32(0, true);
    const length = view.getUint32(4, true);
    if (length !== data.byteLength - 8) return this.violation('reply length mismatch');
    const body = new Uint8Array(data, 8, length);
    if (status === Status.PUSH_FRAME) return this.pushed(new Reader(body));
    if (this.head >= this.queue.length) return this.violation('a reply no request asked for');
    const pending = this.queue[this.head];
    this.queue[this.head++] = null;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (!pending) return;
    if (status === Status.OK) pending.resolve(body);
    else pending.reject(new IggyError(status, pending.code));
  }

  /** Routes the frames of subscription `id` to `handler`, first those that came early. */
  subscribe(id: number, handler: PushHandler): void {
    this.subscriptions.set(id, handler);
    const early = this.early;
    this.early = [];
    for (const frame of early) this.pushed(frame);
  }

  unsubscribe(id: number): void {
    this.subscriptions.delete(id);
  }

  private pushed(frame: Reader): void {
    frame.pos = 0;
    try {
      const handler = this.subscriptions.get(frame.u32());
      if (handler) return handler(frame);
      if (this.early.push(frame) > MAX_EARLY_FRAMES) this.early.shift();
    } catch (e) {
      this.violation(e instanceof Error ? e.message : 'bad pushed frame');
    }
  }

  private violation(reason: string): void {
    this.ws.close(1002, reason.slice(0, 120));
    this.lost(new ConnectionClosed(1002, reason));
  }

  private lost(e: ConnectionClosed): void {
    if (this.closedWith) return;
    this.closedWith = e;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]?.reject(e);
    this.queue = [];
    this.head = 0;
    this.subscriptions.clear();
    this.early = [];
    for (const listener of this.closeListeners.splice(0)) listener(e);
  }
}
