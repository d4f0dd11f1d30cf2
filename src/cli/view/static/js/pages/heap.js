// The heap flame graph: what a service holds in memory, by the stacks that allocated it, from the last
// heap profile of each process in the time range. Heap samples carry no span (an object outlives the
// request that allocated it), so there is no per-request view of memory.
import { errorBox, getJson, getStore } from '../api.js';
import { el, formatBytes, formatLocation, formatPercent, replace, shortLocation } from '../dom.js';
import { flameCard } from '../flame.js';
import { rangeControls, rangeFromUrl, serviceSelect, setUrlParams, urlParams } from '../filters.js';

function retainersTable(retainers, totalBytes, onPick) {
  if (!retainers || retainers.length === 0) return el('p', { class: 'empty', text: 'No heap samples.' });
  return el(
    'table',
    { class: 'data-table functions', 'data-testid': 'retainers' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Allocated by' }), el('th', { class: 'num', text: 'In use' }), el('th', { class: 'num', text: 'Objects' }), el('th', { class: 'bar-col', text: 'Share' }))),
    el(
      'tbody',
      {},
      retainers.map((site) =>
        el(
          'tr',
          {},
          el(
            'td',
            { class: 'fn' },
            el('button', { type: 'button', class: 'link', title: 'Find in the flame graph', text: site.name, onclick: () => onPick(site) }),
            site.file ? el('div', { class: 'location', title: formatLocation(site.file, site.line), text: shortLocation(site.file, site.line, 3) }) : null,
          ),
          el('td', { class: 'num strong', text: formatBytes(site.bytes) }),
          el('td', { class: 'num', text: site.objects.toLocaleString() }),
          el(
            'td',
            { class: 'bar-col' },
            el('span', { class: 'bar' }, el('span', { class: 'bar-fill', style: { width: `${(100 * site.bytes) / (totalBytes || 1)}%` } })),
            el('span', { class: 'bar-label', text: formatPercent(site.bytes, totalBytes) }),
          ),
        ),
      ),
    ),
  );
}

export async function renderHeapPage(main) {
  const store = await getStore();
  const params = urlParams();
  const summary = el('p', { class: 'summary' });
  const flame = flameCard({
    title: 'Heap flame graph (bytes in use)',
    format: formatBytes,
    emptyText: 'No heap profiles here. The agent writes one every upload interval unless SPAN_PROFILES_HEAP=false.',
  });
  const retainers = el('div');

  replace(
    main,
    el(
      'div',
      { class: 'page-head' },
      el('h1', { text: 'Heap flame graph' }),
      el('p', {
        class: 'lede',
        text: 'What a service holds in memory, by the code that allocated it: the last heap profile of each process in the range. Heap samples have no span, so memory cannot be split by request.',
      }),
    ),
    el(
      'div',
      { class: 'filters card' },
      serviceSelect(store.services, params.get('service') ?? '', (value) => (setUrlParams({ service: value }), load())),
      rangeControls(() => load()),
      el('button', { type: 'button', class: 'button', text: 'Refresh', onclick: () => load() }),
    ),
    summary,
    flame.element,
    el('section', { class: 'card' }, el('div', { class: 'card-head' }, el('h2', { text: 'Top retainers by allocation site' })), retainers),
  );

  async function load() {
    const p = urlParams();
    const { from, until } = rangeFromUrl(p);
    let data;
    try {
      data = await getJson('heap', { service: p.get('service'), from, until });
    } catch (error) {
      replace(summary, errorBox(error));
      return;
    }
    const processes = data.snapshots.length;
    replace(
      summary,
      el('strong', { text: `${formatBytes(data.inuseBytes)} in use` }),
      processes === 0
        ? ' · no heap profile in this range'
        : ` · ${data.inuseObjects.toLocaleString()} objects · ${processes} process${processes === 1 ? '' : 'es'} · sampled every ${formatBytes(data.samplingIntervalBytes)}`,
    );
    flame.draw(data.flame);
    replace(retainers, retainersTable(data.retainers, data.inuseBytes, (site) => flame.search(site.name)));
  }

  await load();
}
