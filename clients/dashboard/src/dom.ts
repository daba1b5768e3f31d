// Tiny DOM helpers. Everything from the server (names, payloads) goes in as text nodes, never
// as HTML: a payload can hold anything.

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
type Child = Node | string | number | null | undefined | false;

/** `h('td', {class: 'n'}, 'text', child)`: an element with attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false) el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** The element with `id`; a missing one is a bug in index.html. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

/** Replaces a table body's rows (an empty list shows `empty` across `columns`). */
export function fillRows(body: HTMLTableSectionElement, rows: HTMLTableRowElement[], columns: number, empty: string): void {
  if (rows.length === 0) rows = [h('tr', {}, h('td', { colspan: String(columns), class: 'empty' }, empty))];
  body.replaceChildren(...rows);
}

/** A right-aligned (numeric) cell. */
export function num(value: Child): HTMLTableCellElement {
  return h('td', { class: 'n' }, value);
}

/** A row of cells; anything not already a cell becomes one. */
export function row(cells: (Child | HTMLTableCellElement)[], attrs: Attrs = {}): HTMLTableRowElement {
  return h('tr', attrs, ...cells.map((c) => (c instanceof HTMLTableCellElement ? c : h('td', {}, c))));
}
