// Number and payload formatting for the dashboard. Pure functions.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) (n /= 1024), i++;
  return `${i === 0 ? n : n.toFixed(1)} ${UNITS[i]}`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A per-second rate from two counters `dtMs` apart (blank before there are two). */
export function rate(now: number, before: number | undefined, dtMs: number): string {
  if (before === undefined || dtMs <= 0) return '–';
  const r = (Math.max(0, now - before) * 1000) / dtMs;
  return `${r < 10 ? r.toFixed(1) : count(Math.round(r))}/s`;
}

export function duration(micros: number): string {
  let s = Math.floor(micros / 1e6);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60].map((x) => String(x).padStart(2, '0')).join(':');
  return d > 0 ? `${d}d ${hms}` : hms;
}

export function time(micros: number): string {
  const d = new Date(micros / 1000);
  return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export type PayloadView = 'text' | 'json' | 'hex';

/** Shown bytes of a payload at most; the rest is summarised. */
export const SHOWN_BYTES = 2048;
const decoder = new TextDecoder('utf-8', { fatal: false });

/** A payload as text (control characters shown as `·`), pretty JSON, or hex. */
export function payload(data: Uint8Array, view: PayloadView): string {
  const cut = data.length > SHOWN_BYTES ? data.subarray(0, SHOWN_BYTES) : data;
  const more = data.length > SHOWN_BYTES ? ` … (${bytes(data.length)})` : '';
  if (view === 'hex') {
    const hex = Array.from(cut.subarray(0, 512), (b) => b.toString(16).padStart(2, '0'));
    const lines: string[] = [];
    for (let i = 0; i < hex.length; i += 16) lines.push(hex.slice(i, i + 16).join(' '));
    return lines.join('\n') + (data.length > 512 ? ` … (${bytes(data.length)})` : '');
  }
  const text = decoder.decode(cut);
  if (view === 'json' && !more) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return `(not JSON) ${printable(text)}`;
    }
  }
  return printable(text) + more;
}

function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '·');
}
