// Building DOM and formatting numbers. Text always goes in as text (never as HTML): span and
// function names come from the profiled app and must not be able to inject markup.

/**
 * Creates an element. `props`: `class`, `text`, `title`, `href`, `on<event>` handlers, `dataset`,
 * `style` (object), any other attribute. Children: nodes or strings (as text); null/false skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style') Object.assign(node.style, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Nanoseconds as a short duration: 1.23 s, 456 ms, 12.3 ms, 850 µs. */
export function formatNanos(ns) {
  if (ns === undefined || ns === null || Number.isNaN(ns)) return '–';
  return formatMs(ns / 1e6);
}

/** Milliseconds as a short duration. */
export function formatMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs === 0) return '0 ms';
  if (abs >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (abs >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (abs >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (abs >= 100) return `${ms.toFixed(0)} ms`;
  if (abs >= 10) return `${ms.toFixed(1)} ms`;
  if (abs >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

/** Bytes as a short size: 41.2 MiB, 512 KiB, 900 B. */
export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null || Number.isNaN(bytes)) return '–';
  const abs = Math.abs(bytes);
  if (abs >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (abs >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(bytes / 1024).toFixed(abs >= 10 * 1024 ? 0 : 1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** A share as a percentage with sensible precision. */
export function formatPercent(part, whole) {
  if (!whole) return '–';
  const p = (100 * part) / whole;
  if (p === 0) return '0%';
  if (Math.abs(p) < 0.1) return '<0.1%';
  return `${p < 10 ? p.toFixed(1) : p.toFixed(0)}%`;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** Unix ms as local date and time with milliseconds. */
export function formatTime(ms) {
  if (ms === undefined || ms === null) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Unix ms as time of day only (for rows of one day). */
export function formatClock(ms) {
  if (ms === undefined || ms === null) return '–';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A frame's location for display: `file:line` with file:// and the cwd-like prefix kept short. */
export function formatLocation(file, line) {
  if (!file) return '';
  const clean = file.replace(/^file:\/\//, '');
  return line ? `${clean}:${line}` : clean;
}

/** The last path segments of a location, for narrow columns (the full one goes in a title). */
export function shortLocation(file, line, segments = 2) {
  const full = formatLocation(file, line);
  if (full.startsWith('node:')) return full;
  const parts = full.split('/');
  return parts.length > segments ? `…/${parts.slice(-segments).join('/')}` : full;
}

/** Replaces the children of `node`. */
export function replace(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}
