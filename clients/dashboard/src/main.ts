// eddy-server's dashboard: log in over the page's own origin, then refresh the server's stats,
// per-shard load and streams/topics/partitions every second (rates are deltas between
// refreshes), follow one topic live and send test messages to it. Built on eddy-js.
import { Client, IggyError, type ShardStats, type Stats, type TopicInfo } from '../../js/src/index.js';
import { byId, fillRows, h, num, row } from './dom.js';
import { bytes, count, duration, rate } from './format.js';
import { Tail } from './tail.js';

const REFRESH_MS = 1000;
/** Streams whose topics are listed each refresh; the rest are counted. */
const MAX_STREAMS = 50;

interface Target { stream: number; topic: number; label: string }

let client: Client | null = null;
let tail: Tail | null = null;
let target: Target | undefined;
/** Counters at the previous refresh, by key, for rates. */
let previous = new Map<string, number>();
let previousAt = 0;

const serverUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;

function describe(e: unknown): string {
  return e instanceof IggyError ? `${e.message}` : e instanceof Error ? e.message : String(e);
}

async function login(event: Event): Promise<void> {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const data = new FormData(form);
  const error = byId('login-error');
  error.textContent = '';
  const button = form.querySelector('button');
  if (button) button.disabled = true;
  try {
    client = await Client.connect(serverUrl, {
      username: String(data.get('username') ?? ''),
      password: String(data.get('password') ?? ''),
    });
  } catch (e) {
    error.textContent = `Login failed: ${describe(e)}`;
    return;
  } finally {
    if (button) button.disabled = false;
  }
  byId('login').hidden = true;
  byId('app').hidden = false;
  byId('logout').hidden = false;
  tail = new Tail(client);
  void tail.follow(undefined);
  void refreshLoop(client);
}

function logout(): void {
  client?.close();
  location.reload();
}

async function refreshLoop(c: Client): Promise<void> {
  while (client === c) {
    const started = Date.now();
    try {
      await refresh(c);
      setStatus('live', 'ok');
    } catch (e) {
      setStatus(`reconnecting: ${describe(e)}`, 'bad');
    }
    await new Promise((r) => setTimeout(r, Math.max(100, REFRESH_MS - (Date.now() - started))));
  }
}

function setStatus(text: string, kind: 'ok' | 'bad'): void {
  const el = byId('status');
  el.textContent = text;
  el.className = kind;
}

async function refresh(c: Client): Promise<void> {
  const [stats, shards, streams] = await Promise.all([c.stats(), c.shardStats().catch(() => [] as ShardStats[]), c.streams()]);
  const now = Date.now();
  const dt = now - previousAt;
  const seen = new Map<string, number>();
  const rateOf = (key: string, value: number): string => {
    seen.set(key, value);
    return rate(value, previous.get(key), dt);
  };
  showStats(stats, rateOf);
  showShards(shards, rateOf);
  const listed = streams.slice(0, MAX_STREAMS);
  const details = await Promise.all(listed.map((s) => c.stream(s.id)));
  const rows: HTMLTableRowElement[] = [];
  const topics: (Target & { info: TopicInfo })[] = [];
  for (const [i, s] of listed.entries()) {
    rows.push(row([h('strong', {}, s.name), '', num(s.topicsCount), num(count(s.messagesCount)), num(bytes(s.sizeBytes)),
      num(rateOf(`s${s.id}`, s.messagesCount))], { class: 'stream' }));
    for (const t of details[i]?.topics ?? []) {
      const item = { stream: s.id, topic: t.id, label: `${s.name}/${t.name}`, info: t };
      topics.push(item);
      const chosen = target?.stream === s.id && target.topic === t.id;
      rows.push(row(['', h('button', { class: 'link', onclick: () => choose(item) }, t.name), num(t.partitionsCount),
        num(count(t.messagesCount)), num(bytes(t.sizeBytes)), num(rateOf(`t${s.id}/${t.id}`, t.messagesCount))],
      { class: chosen ? 'topic chosen' : 'topic', 'data-topic': item.label }));
    }
  }
  fillRows(byId<HTMLTableSectionElement>('streams-rows'), rows, 6, 'No streams yet.');
  byId('streams-more').textContent = streams.length > MAX_STREAMS ? `and ${streams.length - MAX_STREAMS} more streams` : '';
  showTopicChoice(topics);
  if (target) await showPartitions(c, target, rateOf);
  previous = seen;
  previousAt = now;
}

function showStats(s: Stats, rateOf: (key: string, v: number) => string): void {
  byId('server').textContent = `${s.serverVersion} on ${s.hostname}`;
  const cards: [string, string][] = [
    ['Connections', count(s.clientsCount)],
    ['Memory', bytes(s.memoryUsage)],
    ['Messages', count(s.messagesCount)],
    ['Messages/s', rateOf('messages', s.messagesCount)],
    ['Streams · topics · partitions', `${s.streamsCount} · ${s.topicsCount} · ${s.partitionsCount}`],
    ['Shards', count(s.threadsCount)],
    ['Uptime', duration(s.runTime)],
  ];
  byId('cards').replaceChildren(...cards.map(([k, v]) => h('div', { class: 'card' }, h('span', {}, k), h('b', {}, v))));
}

function showShards(shards: ShardStats[], rateOf: (key: string, v: number) => string): void {
  const rows = shards.map((s) => {
    // CPU time per wall second, as a percentage of one core.
    const cpu = rateOf(`cpu${s.shard}`, s.cpuMicros / 1e4).replace('/s', ' %');
    return row([`shard ${s.shard}`, num(s.connections), num(s.partitions), num(count(s.messages)),
      num(rateOf(`req${s.shard}`, s.requests)), num(cpu)]);
  });
  fillRows(byId<HTMLTableSectionElement>('shards-rows'), rows, 6, 'Per-shard load needs eddy-server.');
}

async function showPartitions(c: Client, t: Target, rateOf: (key: string, v: number) => string): Promise<void> {
  const topic = await c.topic(t.stream, t.topic);
  byId('partitions-title').textContent = `Partitions of ${t.label}`;
  const rows = (topic?.partitions ?? []).map((p) => row([num(p.id), num(count(p.messagesCount)), num(count(p.currentOffset)),
    num(p.segmentsCount), num(bytes(p.sizeBytes)), num(rateOf(`p${t.stream}/${t.topic}/${p.id}`, p.messagesCount))]));
  fillRows(byId<HTMLTableSectionElement>('partitions-rows'), rows, 6, 'The topic is gone.');
}

function showTopicChoice(topics: Target[]): void {
  const select = byId<HTMLSelectElement>('topic');
  const want = target ? `${target.stream}/${target.topic}` : '';
  const options = [h('option', { value: '' }, '— choose a topic —'),
    ...topics.map((t) => h('option', { value: `${t.stream}/${t.topic}`, selected: `${t.stream}/${t.topic}` === want }, t.label))];
  const same = select.options.length === options.length &&
    options.every((o, i) => select.options[i].value === o.value && select.options[i].text === o.text);
  if (!same) select.replaceChildren(...options);
  select.value = want;
  select.onchange = () => choose(topics.find((t) => `${t.stream}/${t.topic}` === select.value));
}

function choose(t: Target | undefined): void {
  target = t && { stream: t.stream, topic: t.topic, label: t.label };
  byId('partitions').hidden = !target;
  byId<HTMLButtonElement>('send-button').disabled = !target;
  byId<HTMLSelectElement>('topic').value = target ? `${target.stream}/${target.topic}` : '';
  for (const r of document.querySelectorAll<HTMLElement>('tr.topic')) r.classList.toggle('chosen', r.dataset.topic === target?.label);
  void tail?.follow(target);
}

async function send(event: Event): Promise<void> {
  event.preventDefault();
  const result = byId('send-result');
  const text = byId<HTMLTextAreaElement>('send-payload').value;
  if (!client || !target) return;
  try {
    await client.send(target.stream, target.topic, [{ payload: text }], 'balanced');
    result.textContent = `sent ${bytes(new TextEncoder().encode(text).length)} to ${target.label}`;
  } catch (e) {
    result.textContent = `not sent: ${describe(e)}`;
  }
}

byId('login-form').addEventListener('submit', (e) => void login(e));
byId('send-form').addEventListener('submit', (e) => void send(e));
byId('logout').addEventListener('click', logout);
