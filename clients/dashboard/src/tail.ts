// The live tail: one subscription to the chosen topic (every partition, starting from its
// newest message) whose messages are shown newest first, at most MAX_ROWS of them. Uses no
// consumer offset of its own (no commits), so watching changes nothing on the server.
import type { Client, Message, Subscription } from '../../js/src/index.js';
import { byId, h } from './dom.js';
import { type PayloadView, bytes, payload, time } from './format.js';

const MAX_ROWS = 200;

export class Tail {
  private sub: Subscription | null = null;
  private rows: { message: Message; el: HTMLElement }[] = [];
  private paused = false;
  private readonly list = byId('tail-rows');
  private readonly state = byId('tail-state');
  private view: PayloadView = 'text';

  constructor(private readonly client: Client) {
    const views = byId<HTMLSelectElement>('tail-view');
    views.addEventListener('change', () => {
      this.view = views.value as PayloadView;
      for (const r of this.rows) r.el.replaceWith((r.el = this.render(r.message)));
    });
    const pause = byId<HTMLButtonElement>('tail-pause');
    pause.addEventListener('click', () => {
      this.paused = !this.paused;
      pause.textContent = this.paused ? 'Resume' : 'Pause';
    });
  }

  /** Follows `stream/topic` (ids), or nothing when undefined. */
  async follow(target: { stream: number; topic: number; label: string } | undefined): Promise<void> {
    const old = this.sub;
    this.sub = null;
    await old?.close();
    this.rows = [];
    this.list.replaceChildren();
    if (!target) {
      this.state.textContent = 'no topic selected';
      return;
    }
    const sub = this.client.subscribe(target.stream, target.topic, { strategy: 'last', batch: 100 });
    this.sub = sub;
    this.state.textContent = `following ${target.label}`;
    try {
      for await (const message of sub) {
        if (this.sub !== sub) break;
        if (!this.paused) this.add(message);
      }
    } catch (e) {
      if (this.sub === sub) this.state.textContent = `tail stopped: ${String(e)}`;
    }
  }

  private add(message: Message): void {
    const el = this.render(message);
    this.rows.unshift({ message, el });
    this.list.prepend(el);
    while (this.rows.length > MAX_ROWS) this.rows.pop()?.el.remove();
  }

  private render(m: Message): HTMLElement {
    const headers = [...m.headers.keys()].join(', ');
    return h(
      'li',
      { class: 'msg' },
      h('div', { class: 'meta' },
        h('span', {}, `p${m.partition}:${m.offset}`),
        h('span', {}, time(m.timestamp)),
        h('span', {}, bytes(m.payload.length)),
        headers && h('span', { class: 'headers' }, headers)),
      h('pre', { class: 'payload' }, payload(m.payload, this.view)),
    );
  }
}
