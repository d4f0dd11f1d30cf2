// The service flame graph: all CPU samples of a service (or of every service) in a time range,
// optionally only those of one request name.
import { errorBox, getJson, getStore } from '../api.js';
import { el, formatNanos, formatPercent, replace } from '../dom.js';
import { flameCard } from '../flame.js';
import { field, rangeControls, rangeFromUrl, serviceSelect, setUrlParams, urlParams } from '../filters.js';
import { hottestTable } from './tables.js';

export async function renderServicePage(main) {
  const store = await getStore();
  const params = urlParams();
  const summary = el('p', { class: 'summary' });
  const flame = flameCard({ title: 'CPU flame graph' });
  const hottest = el('div');
  const nameSelect = el(
    'select',
    { name: 'name', onchange: () => (setUrlParams({ name: nameSelect.value }), load()) },
    el('option', { value: '', text: 'Everything (requests and the rest)' }),
    store.rootSpanNames.map((n) => el('option', { value: n.name, text: `${n.name} (${n.count})`, selected: n.name === params.get('name') })),
  );
  if (params.get('name') && !store.rootSpanNames.some((n) => n.name === params.get('name'))) {
    nameSelect.append(el('option', { value: params.get('name'), text: params.get('name'), selected: true }));
  }

  replace(
    main,
    el(
      'div',
      { class: 'page-head' },
      el('h1', { text: 'Service flame graph' }),
      el('p', { class: 'lede', text: 'Where the CPU of a service went over a time range: every sample, or those of one kind of request.' }),
    ),
    el(
      'div',
      { class: 'filters card' },
      serviceSelect(store.services, params.get('service') ?? '', (value) => (setUrlParams({ service: value }), load())),
      field('Requests', nameSelect),
      rangeControls(() => load()),
      el('button', { type: 'button', class: 'button', text: 'Refresh', onclick: () => load() }),
    ),
    summary,
    flame.element,
    el('section', { class: 'card' }, el('div', { class: 'card-head' }, el('h2', { text: 'Hottest functions' })), hottest),
  );

  async function load() {
    const p = urlParams();
    const { from, until } = rangeFromUrl(p);
    let data;
    try {
      data = await getJson('flame', { service: p.get('service'), name: p.get('name'), from, until });
    } catch (error) {
      replace(summary, errorBox(error));
      return;
    }
    replace(
      summary,
      el('strong', { text: `${formatNanos(data.cpuNanos)} of CPU` }),
      ` · ${formatNanos(data.inSpansNanos)} (${formatPercent(data.inSpansNanos, data.cpuNanos)}) in ${data.rootSpans} request${data.rootSpans === 1 ? '' : 's'}`,
      data.afterSpanEndedNanos > 0 ? ` · ${formatNanos(data.afterSpanEndedNanos)} after its span ended (the “(after its span ended)” block)` : '',
    );
    flame.draw(data.flame);
    replace(hottest, hottestTable(data.hottest, data.cpuNanos, (fn) => flame.search(fn.name)));
  }

  await load();
}
