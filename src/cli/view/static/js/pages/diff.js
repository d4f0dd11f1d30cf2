// The comparison page: what request B spent that request A did not (or the mean request of one name
// against another), as a diff flame graph and the functions that changed most.
import { errorBox, getJson, getStore } from '../api.js';
import { el, formatClock, formatMs, formatNanos, replace } from '../dom.js';
import { flameCard } from '../flame.js';
import { field, rangeControls, rangeFromUrl, serviceSelect, setUrlParams, urlParams } from '../filters.js';
import { changesTable } from './tables.js';

const SPAN_ID = /^[0-9a-fA-F]{16}$/;

export async function renderDiffPage(main) {
  const store = await getStore();
  const params = urlParams();
  const mode = params.has('nameA') || params.has('nameB') || params.get('mode') === 'names' ? 'names' : 'spans';
  const output = el('div', { class: 'diff-output' });

  const tabs = el(
    'div',
    { class: 'tabs', role: 'tablist' },
    el('a', { class: `tab${mode === 'spans' ? ' active' : ''}`, href: '/diff', text: 'Two requests' }),
    el('a', { class: `tab${mode === 'names' ? ' active' : ''}`, href: '/diff?mode=names', text: 'Two kinds of request (span names)' }),
  );
  replace(
    main,
    el(
      'div',
      { class: 'page-head' },
      el('h1', { text: 'Compare' }),
      el('p', { class: 'lede', text: 'What B spent that A did not: red frames used more CPU in B, blue ones less; widths show the larger of the two.' }),
    ),
    tabs,
    mode === 'spans' ? spanPicker(params, output) : namePicker(store, params, output),
    output,
  );
  await refresh(output);
}

function spanPicker(params, output) {
  const a = el('input', { name: 'a', class: 'mono', placeholder: 'span id (16 hex digits)', value: params.get('a') ?? '', size: 20 });
  const b = el('input', { name: 'b', class: 'mono', placeholder: 'span id (16 hex digits)', value: params.get('b') ?? '', size: 20 });
  const go = () => {
    setUrlParams({ a: a.value.trim(), b: b.value.trim() });
    refresh(output);
  };
  return el(
    'form',
    { class: 'filters card', onsubmit: (event) => (event.preventDefault(), go()) },
    field('A (baseline)', a),
    field('B', b),
    el('button', { type: 'submit', class: 'button primary', text: 'Compare' }),
  );
}

function namePicker(store, params, output) {
  const options = (selected) => [
    el('option', { value: '', text: 'Choose…' }),
    store.rootSpanNames.map((n) => el('option', { value: n.name, text: `${n.name} (${n.count})`, selected: n.name === selected })),
  ];
  const a = el('select', { name: 'nameA' }, options(params.get('nameA')));
  const b = el('select', { name: 'nameB' }, options(params.get('nameB')));
  const go = () => {
    setUrlParams({ mode: 'names', nameA: a.value, nameB: b.value });
    refresh(output);
  };
  a.addEventListener('change', go);
  b.addEventListener('change', go);
  return el(
    'div',
    { class: 'filters card' },
    field('A (baseline)', a),
    field('B', b),
    serviceSelect(store.services, params.get('service') ?? '', (value) => (setUrlParams({ service: value }), refresh(output))),
    rangeControls(() => refresh(output)),
  );
}

async function refresh(output) {
  const p = urlParams();
  const byNames = p.get('mode') === 'names' || p.has('nameA') || p.has('nameB');
  if (!byNames) {
    const a = p.get('a');
    const b = p.get('b');
    if (!a || !SPAN_ID.test(a)) {
      replace(output, el('p', { class: 'empty card', text: 'Pick two requests: tick two rows on the Requests page, or paste two span ids above.' }));
      return;
    }
    if (!b || !SPAN_ID.test(b)) {
      await suggestB(output, a);
      return;
    }
  } else if (!p.get('nameA') || !p.get('nameB')) {
    replace(output, el('p', { class: 'empty card', text: 'Choose two span names to compare their average request.' }));
    return;
  }
  const { from, until } = rangeFromUrl(p);
  let data;
  try {
    data = byNames
      ? await getJson('diff', { nameA: p.get('nameA'), nameB: p.get('nameB'), service: p.get('service'), from, until })
      : await getJson('diff', { a: p.get('a'), b: p.get('b') });
  } catch (error) {
    replace(output, errorBox(error));
    return;
  }
  const change = data.b.cpuNanos - data.a.cpuNanos;
  const per = data.perSpan ? ' per request' : '';
  const flame = flameCard({ title: 'Diff flame graph', diff: true, subtitle: data.perSpan ? 'mean CPU per request of each name' : undefined });
  replace(
    output,
    el(
      'div',
      { class: 'diff-summary' },
      side('A', data.a, per),
      side('B', data.b, per),
      el(
        'div',
        { class: `diff-side delta ${change > 0 ? 'more' : change < 0 ? 'less' : ''}` },
        el('div', { class: 'diff-tag', text: 'B − A' }),
        el('div', { class: 'diff-cpu', text: `${change > 0 ? '+' : change < 0 ? '−' : '±'}${formatNanos(Math.abs(change))}` }),
        el('div', { class: 'muted', text: `CPU${per}` }),
      ),
    ),
    flame.element,
    el('section', { class: 'card' }, el('div', { class: 'card-head' }, el('h2', { text: 'Biggest changes' }), el('span', { class: 'card-sub', text: `self CPU${per}` })), changesTable(data.changes, (fn) => flame.search(fn.name))),
  );
  flame.draw(data.flame);
}

function side(tag, info, per) {
  return el(
    'div',
    { class: 'diff-side' },
    el('div', { class: 'diff-tag', text: tag }),
    el('div', { class: 'diff-label', title: info.label, text: info.label }),
    el('div', { class: 'diff-cpu', text: formatNanos(info.cpuNanos) }),
    el('div', { class: 'muted', text: `CPU${per} · ${info.spans} request${info.spans === 1 ? '' : 's'}` }),
  );
}

/** With only A chosen: offer other requests of the same name as B. */
async function suggestB(output, a) {
  let span;
  try {
    span = await getJson(`span/${a}`);
  } catch (error) {
    replace(output, errorBox(error));
    return;
  }
  const list = await getJson('roots', { name: span.root.name, sort: 'cpu', limit: 50 });
  const candidates = list.roots.filter((r) => r.spanId !== span.root.spanId && r.name === span.root.name);
  replace(
    output,
    el(
      'section',
      { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', { text: `Compare “${span.root.name}” (${formatNanos(span.cpuNanos)} CPU) with…` })),
      candidates.length === 0
        ? el('p', { class: 'empty', text: 'No other request of this name in the store; paste a span id as B above.' })
        : el(
            'table',
            { class: 'data-table' },
            el('tbody', {}, candidates.map((r) =>
              el(
                'tr',
                {},
                el('td', {}, el('a', { href: `/diff?a=${a}&b=${r.spanId}`, text: r.name })),
                el('td', { class: 'time', text: formatClock(r.startMs) }),
                el('td', { class: 'num', text: formatMs(r.durationMs) }),
                el('td', { class: 'num strong', text: `${formatNanos(r.cpuNanos)} CPU` }),
              ),
            )),
          ),
    ),
  );
}
