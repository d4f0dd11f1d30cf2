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
        data.trace
          ? el('a', { class: 'button', href: `/api/span/${spanId}/chrome-trace`, download: '', title: 'Spans as slices, CPU samples as instant events: opens in Perfetto (ui.perfetto.dev) and the Firefox Profiler', text: 'Download Chrome trace' })
          : null,
        el('a', { class: 'button', href: `/diff?a=${root.spanId}`, text: 'Compare with another request' }),
        el('a', { class: 'button', href: `/service?${new URLSearchParams({ name: root.name })}`, text: `Flame graph of all “${root.name}”` }),
      ),
    ),
    // The waterfall with its CPU lane, and beside it (on a wide screen) where the request's time went.
    el(
      'div',
      { class: data.breakdown ? 'trace-row' : '' },
      data.trace ? waterfallCard(data, spanId) : el('section', { class: 'card muted-card', text: 'The spans of this trace are not in the store; only its CPU samples are.' }),
      data.breakdown ? breakdownCard(data) : null,
    ),
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
      data.lane ? laneRow(data, trace, total) : null,
    ),
  );
}

const LANE_TITLES = { self: 'this request ran', other: 'another request ran', outside: 'code outside any request ran (GC, timers…)' };

/** The CPU lane: on the waterfall's axis, who held the event loop while the request was open; gaps: nobody (waiting). */
function laneRow(data, trace, total) {
  const lane = data.lane;
  const pct = (ms) => (100 * (ms - trace.startMs)) / total;
  const open = el('span', { class: 'lane-open', style: { left: `${pct(lane.startMs)}%`, width: `${Math.max(pct(lane.endMs) - pct(lane.startMs), 0.3)}%` }, title: 'the request was open; blank: nobody ran (waiting)' });
  const segments = lane.segments.map((segment) => {
    const attrs = {
      class: `lane-seg ${segment.kind}`,
      style: { left: `${pct(segment.fromMs)}%`, width: `${Math.max(pct(segment.untilMs) - pct(segment.fromMs), 0.15)}%` },
      title: `${LANE_TITLES[segment.kind]}${segment.name ? `: ${segment.name}` : ''} · ${formatMs(segment.untilMs - segment.fromMs)}`,
      dataset: { kind: segment.kind },
    };
    return segment.kind === 'other' && segment.spanId ? el('a', { ...attrs, href: `/span/${segment.spanId}` }) : el('span', attrs);
  });
  return el(
    'div',
    { class: 'wf-row lane-row', 'data-testid': 'cpu-lane' },
    el('div', { class: 'wf-label', title: 'Who ran on the event loop while this request was open' }, el('span', { text: 'CPU (event loop)' })),
    el('div', { class: 'wf-track lane-track' }, open, segments),
  );
}

/** Where the request's time went: own CPU, blocked behind other work (and whose), waiting. */
function breakdownCard(data) {
  const b = data.breakdown;
  const part = (nanos) => (b.durationNanos > 0 ? `${Math.round((100 * nanos) / b.durationNanos)}%` : '–');
  const stack = el(
    'div',
    { class: 'bd-bar' },
    el('span', { class: 'bd self', style: { width: part(b.cpuNanos) }, title: `own CPU ${formatNanos(b.cpuNanos)}` }),
    el('span', { class: 'bd blocked', style: { width: part(b.blockedNanos) }, title: `blocked ${formatNanos(b.blockedNanos)}` }),
    el('span', { class: 'bd waiting', style: { width: part(b.waitingNanos) }, title: `waiting ${formatNanos(b.waitingNanos)}` }),
  );
  const facts = [
    ['self', 'Own CPU', b.cpuNanos, 'its own code (and its child spans\' code) ran'],
    ['blocked', 'Blocked', b.blockedNanos, 'the event loop ran other requests\' code, or code outside any request'],
    ['waiting', 'Waiting', b.waitingNanos, 'nobody ran: I/O, timers, idle'],
  ].map(([kind, label, nanos, help]) =>
    el('div', { class: `bd-fact ${kind}`, title: help }, el('span', { class: `bd-swatch ${kind}` }), el('strong', { text: label }), el('span', { text: ` ${formatNanos(nanos)} (${part(nanos)})` })),
  );
  const blockers = b.blockedBy.length === 0
    ? el('p', { class: 'muted', text: 'Nothing else ran while this request was open.' })
    : el(
        'table',
        { class: 'data-table blocked-by', 'data-testid': 'blocked-by' },
        el('thead', {}, el('tr', {}, el('th', { text: 'Blocked by' }), el('th', { class: 'num', text: 'Time' }), el('th', { class: 'num', title: 'Requests', text: 'Req.' }), el('th', { text: 'Functions' }))),
        el(
          'tbody',
          {},
          b.blockedBy.map((x) =>
            el(
              'tr',
              {},
              el('td', { class: 'name' }, el('a', { href: `/service?${new URLSearchParams({ name: x.name })}`, text: x.name })),
              el('td', { class: 'num strong', text: formatNanos(x.cpuNanos) }),
              el('td', { class: 'num', text: String(x.spans) }),
              el('td', { class: 'mono', text: x.functions.join(', ') }),
            ),
          ),
        ),
      );
  return el(
    'section',
    { class: 'card', 'data-testid': 'breakdown' },
    el(
      'div',
      { class: 'card-head' },
      el('h2', { text: 'Where the time went' }),
      el('span', { class: 'card-sub', text: `${formatNanos(b.durationNanos)} from CPU samples with their times` }),
      data.loopDelayMaxNanos !== undefined && data.loopDelayMaxNanos !== null
        ? el('span', { class: 'chip delay', 'data-testid': 'loop-delay', title: 'The largest event-loop delay the process measured (perf_hooks) while this request was open', text: `event-loop delay up to ${formatNanos(data.loopDelayMaxNanos)}` })
        : null,
    ),
    stack,
    el('div', { class: 'bd-facts' }, facts),
    blockers,
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
