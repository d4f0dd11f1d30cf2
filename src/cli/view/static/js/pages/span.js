// A span's page: what the request was, its trace as a waterfall, and the flame graph of the CPU
// samples its code left (those labelled with its local root's span id), with the hottest functions.
import { getJson, getStore } from '../api.js';
import { el, formatMs, formatNanos, formatTime, replace } from '../dom.js';
import { flameCard } from '../flame.js';
import { hottestTable } from './tables.js';

const KIND_NAMES = ['', 'internal', 'server', 'client', 'producer', 'consumer'];

export async function renderSpanPage(main, spanId) {
  getStore().catch(() => {});
  const data = await getJson(`span/${spanId}`);
  const span = data.span;
  const root = data.root;
  const title = span?.name ?? root.name;
  document.title = `${title} · span-profiles`;

  const facts = [
    ['Service', span?.service ?? root.service ?? '–'],
    ['Started', formatTime(span?.startMs ?? root.startMs)],
    ['Duration', formatMs(span?.durationMs ?? root.durationMs)],
    ['CPU', data.estimate ? `~${formatNanos(data.cpuNanos)} (an estimate: ${data.samples} sample${data.samples === 1 ? '' : 's'})` : formatNanos(data.cpuNanos)],
    ['Samples', String(data.samples)],
    ['Trace', span?.traceId ?? data.trace?.traceId ?? '–'],
  ];
  const isRoot = span === undefined || span.spanId === root.spanId || span.profileId === root.spanId;

  const flame = flameCard({
    title: isRoot ? 'CPU flame graph' : `CPU flame graph of the request (${root.name})`,
    subtitle: data.cpuNanos > 0 ? `${formatNanos(data.cpuNanos)} of CPU in ${data.samples} samples` : undefined,
  });

  replace(
    main,
    el('a', { class: 'back', href: '/', text: '← Requests' }),
    el(
      'div',
      { class: 'page-head span-head' },
      el('h1', {}, title, span?.statusCode === 2 ? el('span', { class: 'badge error', text: 'error' }) : null),
      el('dl', { class: 'facts' }, facts.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { class: k === 'Trace' ? 'mono' : '', text: v })))),
      el(
        'div',
        { class: 'actions' },
        data.cpuNanos > 0 ? el('a', { class: 'button', href: `/api/span/${root.spanId}/pprof`, download: '', text: 'Download pprof' }) : null,
        el('a', { class: 'button', href: `/diff?a=${root.spanId}`, text: 'Compare with another request' }),
        el('a', { class: 'button', href: `/service?${new URLSearchParams({ name: root.name })}`, text: `Flame graph of all “${root.name}”` }),
      ),
    ),
    data.trace ? waterfallCard(data, spanId) : el('section', { class: 'card muted-card', text: 'The spans of this trace are not in the store; only its CPU samples are.' }),
    flame.element,
    el('section', { class: 'card' }, el('div', { class: 'card-head' }, el('h2', { text: 'Hottest functions' }), el('span', { class: 'card-sub', text: 'click one to find it in the flame graph' })), hottestTable(data.hottest, data.cpuNanos, (fn) => flame.search(fn.name))),
  );
  flame.draw(data.flame);
}

function waterfallCard(data, currentId) {
  const trace = data.trace;
  const total = Math.max(trace.durationMs, 0.001);
  const ticks = niceTicks(total);
  const rows = trace.rows.map((row) => {
    const left = (100 * row.offsetMs) / total;
    const width = Math.max((100 * row.durationMs) / total, 0.3);
    const cpu = row.profileId ? data.cpuByProfileId[row.profileId] : undefined;
    const isCurrent = row.spanId === currentId || row.profileId === currentId;
    const isFlameRoot = row.profileId === data.root.spanId || row.spanId === data.root.spanId;
    const attributes = Object.entries(row.attributes).map(([k, v]) => `${k}: ${v}`);
    const tooltip = [`${row.name} (${KIND_NAMES[row.kind] || 'span'}, ${row.service})`, `starts +${formatMs(row.offsetMs)}, lasts ${formatMs(row.durationMs)}`, ...attributes].join('\n');
    const label = el(
      'div',
      { class: 'wf-label', style: { paddingLeft: `${8 + row.depth * 14}px` }, title: tooltip },
      row.depth > 0 ? el('span', { class: 'wf-branch', 'aria-hidden': 'true' }) : null,
      row.profileId && !isCurrent ? el('a', { href: `/span/${row.profileId}`, text: row.name }) : el('span', { text: row.name }),
      el('span', { class: 'wf-service', text: row.service }),
      cpu ? el('span', { class: 'chip cpu', title: 'CPU used by the code of this request in its service', text: `${formatNanos(cpu)} CPU` }) : null,
    );
    const bar = el(
      'div',
      { class: 'wf-track', title: tooltip },
      el('span', {
        class: `wf-bar kind-${KIND_NAMES[row.kind] || 'other'}${row.statusCode === 2 ? ' error' : ''}`,
        style: { left: `${left}%`, width: `${width}%` },
      }),
      el('span', { class: 'wf-duration', style: { left: `${left + width}%` }, text: formatMs(row.durationMs) }),
    );
    return el('div', { class: `wf-row${isCurrent ? ' current' : ''}${isFlameRoot ? ' flame-root' : ''}` }, label, bar);
  });
  return el(
    'section',
    { class: 'card' },
    el(
      'div',
      { class: 'card-head' },
      el('h2', { text: 'Trace' }),
      el('span', { class: 'card-sub', text: `${trace.rows.length} span${trace.rows.length === 1 ? '' : 's'} · ${formatMs(trace.durationMs)}${trace.omitted > 0 ? ` · ${trace.omitted} more not shown` : ''}` }),
    ),
    el(
      'div',
      { class: 'waterfall', 'data-testid': 'waterfall' },
      el(
        'div',
        { class: 'wf-row wf-axis' },
        el('div', { class: 'wf-label muted', text: 'Span' }),
        el('div', { class: 'wf-track' }, ticks.map((ms) => el('span', { class: 'wf-tick', style: { left: `${(100 * ms) / total}%` }, text: formatMs(ms) }))),
      ),
      rows,
    ),
  );
}

/** Round tick values (1, 2 or 5 times a power of ten) from 0 to at most `totalMs`, about five of them. */
function niceTicks(totalMs) {
  const rough = totalMs / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? rough;
  const ticks = [];
  for (let ms = 0; ms <= totalMs + step * 1e-9; ms += step) ticks.push(ms);
  return ticks;
}
