// The interactive flame graph, drawn by d3-flame-graph (bundled in /static/vendor/flamegraph.js):
// hover for function, file:line, self and total; click a frame to zoom into it; search highlights.
// Top-down (icicle): the request at the top, the functions it called below.
import { el, formatLocation, formatNanos, formatPercent, replace } from './dom.js';

const SYNTHETIC = new Set(['(garbage collector)', 'Garbage Collection', 'Node.js', 'Non JS threads activity', '(program)', '(idle)', '(root)']);

/** What kind of code a frame is, for its colour: app, dependency, Node.js internals, runtime. */
export function frameCategory(data, depth) {
  if (depth === 0) return 'root';
  const file = data.file || '';
  if (SYNTHETIC.has(data.name) || file === '') return 'runtime';
  if (file.startsWith('node:') || file.startsWith('internal/')) return 'node';
  if (file.includes('/node_modules/')) return 'dependency';
  return 'app';
}

export const CATEGORY_LABELS = {
  app: 'Your code',
  dependency: 'Dependencies (node_modules)',
  node: 'Node.js internals',
  runtime: 'GC, native, runtime',
};

// Hue per category; lightness varies by name so neighbouring frames stay apart.
const PALETTE = {
  root: [220, 8, 72],
  app: [22, 88, 60],
  dependency: [42, 85, 58],
  node: [205, 45, 68],
  runtime: [265, 25, 72],
};

function hash(text) {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  return Math.abs(h);
}

function colorOf(node) {
  const [hue, saturation, lightness] = PALETTE[frameCategory(node.data, node.depth)];
  const jitter = (hash(node.data.name || '') % 11) - 5;
  return `hsl(${hue + jitter}, ${saturation}%, ${lightness + jitter}%)`;
}

// Diff colours: red where B spent more than A, blue where less, grey when equal.
function diffColorOf(node) {
  const delta = node.delta ?? 0;
  const scale = Math.max(node.value || 0, Math.abs(delta), 1);
  const strength = Math.min(1, Math.abs(delta) / scale);
  if (Math.abs(delta) < 1e-9 || strength < 0.02) return 'hsl(220, 6%, 84%)';
  const lightness = 88 - 40 * strength;
  return delta > 0 ? `hsl(2, 80%, ${lightness}%)` : `hsl(212, 80%, ${lightness}%)`;
}

/** The tooltip object d3-flame-graph calls: show(event, node) / hide(). */
function createTooltip(describe) {
  const box = el('div', { class: 'flame-tip', role: 'tooltip' });
  box.hidden = true;
  document.body.append(box);
  const tip = () => {};
  tip.show = (event, node) => {
    replace(box, describe(node));
    box.hidden = false;
    const margin = 14;
    const { innerWidth, innerHeight } = window;
    const rect = box.getBoundingClientRect();
    let left = event.clientX + margin;
    let top = event.clientY + margin;
    if (left + rect.width > innerWidth - 8) left = Math.max(8, event.clientX - rect.width - margin);
    if (top + rect.height > innerHeight - 8) top = Math.max(8, event.clientY - rect.height - margin);
    box.style.left = `${left}px`;
    box.style.top = `${top}px`;
    return tip;
  };
  tip.hide = () => {
    box.hidden = true;
    return tip;
  };
  tip.destroy = () => box.remove();
  return tip;
}

const rootOf = (node) => {
  let root = node;
  while (root.parent) root = root.parent;
  return root;
};

function describeFrame(node, format = formatNanos) {
  const data = node.data;
  const total = rootOf(node).data.value;
  const location = formatLocation(data.file, data.line);
  return [
    el('div', { class: 'tip-name', text: data.name }),
    location ? el('div', { class: 'tip-location', text: location }) : el('div', { class: 'tip-location muted', text: CATEGORY_LABELS[frameCategory(data, node.depth)] ?? '' }),
    el(
      'table',
      { class: 'tip-values' },
      el('tr', {}, el('th', { text: 'Self' }), el('td', { text: format(data.self) }), el('td', { class: 'muted', text: formatPercent(data.self, total) })),
      el('tr', {}, el('th', { text: 'Total' }), el('td', { text: format(data.value) }), el('td', { class: 'muted', text: formatPercent(data.value, total) })),
    ),
    el('div', { class: 'tip-hint', text: 'Click to zoom in' }),
  ];
}

function describeDiffFrame(node) {
  const data = node.data;
  const change = data.b - data.a;
  const location = formatLocation(data.file, data.line);
  const sign = change > 0 ? '+' : change < 0 ? '−' : '±';
  return [
    el('div', { class: 'tip-name', text: data.name }),
    location ? el('div', { class: 'tip-location', text: location }) : null,
    el(
      'table',
      { class: 'tip-values' },
      el('tr', {}, el('th', {}), el('th', { text: 'Self' }), el('th', { text: 'Total' })),
      el('tr', {}, el('th', { text: 'A' }), el('td', { text: formatNanos(data.selfA) }), el('td', { text: formatNanos(data.a) })),
      el('tr', {}, el('th', { text: 'B' }), el('td', { text: formatNanos(data.selfB) }), el('td', { text: formatNanos(data.b) })),
      el(
        'tr',
        { class: change > 0 ? 'more' : change < 0 ? 'less' : '' },
        el('th', { text: 'B − A' }),
        el('td', { text: `${sign}${formatNanos(Math.abs(data.selfB - data.selfA))}` }),
        el('td', { text: `${sign}${formatNanos(Math.abs(change))}` }),
      ),
    ),
  ];
}

/**
 * Draws `data` (from the API: {name, value, self, file, line, children}) into `container`.
 * `options.diff`: data is a diff tree (value = self width, delta, a/b totals).
 * `options.format`: how values read (default durations in nanoseconds; the heap graph shows bytes);
 * `options.emptyText`: what to say when there is nothing to draw.
 * Returns { search(term), resetZoom(), destroy() }.
 */
export function renderFlameGraph(container, data, { diff = false, details, format = formatNanos, emptyText } = {}) {
  const flamegraphLib = window.flamegraph;
  if (!flamegraphLib || typeof flamegraphLib.default !== 'function') {
    replace(container, el('div', { class: 'error-box', text: 'The flame graph library did not load (vendor/flamegraph.js). Rebuild with npm run build:view.' }));
    return { search() {}, resetZoom() {}, destroy() {} };
  }
  replace(container);
  const total = diff ? undefined : data.value;
  if (!diff && !total) {
    replace(container, el('p', { class: 'empty', text: emptyText ?? 'No CPU samples here. The profiler records one sample per few milliseconds of CPU, so a short request, or one that mostly waited, often has none.' }));
    return { search() {}, resetZoom() {}, destroy() {} };
  }
  const tooltip = createTooltip(diff ? describeDiffFrame : (node) => describeFrame(node, format));
  const chart = flamegraphLib
    .default()
    .width(Math.max(320, container.clientWidth))
    .cellHeight(20)
    .minFrameSize(1)
    .transitionDuration(300)
    .inverted(true)
    .sort(false)
    .selfValue(diff)
    .tooltip(tooltip)
    .getName((node) => node.data.name)
    .setSearchMatch((node, term) => Boolean(term) && String(node.data.name).toLowerCase().includes(String(term).toLowerCase()))
    .setLabelHandler((node) => {
      const d = node.data;
      const where = formatLocation(d.file, d.line);
      if (diff) return `${d.name}${where ? ` (${where})` : ''}  A ${formatNanos(d.a)} · B ${formatNanos(d.b)}`;
      return `${d.name}${where ? ` (${where})` : ''}  self ${format(d.self)} · total ${format(d.value)} (${formatPercent(d.value, total)})`;
    });
  if (diff) chart.computeDelta(true);
  chart.setColorMapper((node) => (node.highlight ? 'hsl(300, 85%, 58%)' : diff ? diffColorOf(node) : colorOf(node)));
  if (details) {
    chart.setDetailsElement(details);
    chart.setSearchHandler((results, sum, rootValue) => {
      const term = container.dataset.searchTerm;
      details.textContent = term
        ? `Search “${term}”: ${results.length} frames, ${format(sum)} of ${format(rootValue)} (${formatPercent(sum, rootValue)})`
        : '';
    });
  }
  window.d3.select(container).datum(data).call(chart);

  let lastWidth = container.clientWidth;
  const observer = new ResizeObserver(() => {
    const width = container.clientWidth;
    if (Math.abs(width - lastWidth) < 4 || width < 50) return;
    lastWidth = width;
    chart.width(width);
    chart.update();
  });
  observer.observe(container);

  return {
    search(term) {
      container.dataset.searchTerm = term;
      if (term) chart.search(term);
      else chart.clear();
    },
    resetZoom() {
      chart.resetZoom();
    },
    destroy() {
      observer.disconnect();
      chart.destroy();
    },
  };
}

/** The toolbar above a flame graph: search box, reset zoom, legend. Returns its element. */
export function flameToolbar({ onSearch, onReset, diff = false }) {
  let timer;
  const input = el('input', {
    type: 'search',
    class: 'flame-search',
    placeholder: 'Search functions…',
    'aria-label': 'Search functions in the flame graph',
    oninput: (event) => {
      clearTimeout(timer);
      timer = setTimeout(() => onSearch(event.target.value.trim()), 150);
    },
  });
  const legend = diff
    ? el('span', { class: 'legend' }, swatch('diff-more', 'B spent more'), swatch('diff-less', 'B spent less'), swatch('diff-same', 'about the same'))
    : el('span', { class: 'legend' }, Object.entries(CATEGORY_LABELS).map(([key, label]) => swatch(`cat-${key}`, label)));
  return el(
    'div',
    { class: 'flame-toolbar' },
    input,
    el('button', { type: 'button', class: 'button', onclick: onReset, text: 'Reset zoom' }),
    legend,
  );
}

function swatch(kind, label) {
  return el('span', { class: 'legend-item' }, el('span', { class: `swatch ${kind}` }), label);
}

/** A card with toolbar, hover details line and the graph; returns { element, draw(data) }. */
export function flameCard({ title, diff = false, subtitle, format, emptyText } = {}) {
  const graph = el('div', { class: 'flame-graph', 'data-testid': 'flame-graph' });
  const details = el('div', { class: 'flame-details', 'aria-live': 'polite', text: 'Hover a frame for details; click to zoom; search to highlight.' });
  let handle = { search() {}, resetZoom() {}, destroy() {} };
  const toolbar = flameToolbar({ diff, onSearch: (term) => handle.search(term), onReset: () => handle.resetZoom() });
  const element = el(
    'section',
    { class: 'card' },
    el('div', { class: 'card-head' }, el('h2', { text: title }), subtitle ? el('span', { class: 'card-sub', text: subtitle }) : null),
    toolbar,
    details,
    graph,
  );
  return {
    element,
    draw(data) {
      handle.destroy();
      handle = renderFlameGraph(graph, data, { diff, details, format, emptyText });
    },
    search(term) {
      const input = toolbar.querySelector('input');
      input.value = term;
      handle.search(term);
      graph.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    },
  };
}
