// The requests page: root spans of a time range with their duration and CPU, filterable by service
// and name, sortable; a row opens the span's page; two ticked rows can be compared.
import { errorBox, getJson, getStore } from '../api.js';
import { el, formatClock, formatMs, formatNanos, formatPercent, formatTime, replace } from '../dom.js';
import { field, rangeControls, rangeFromUrl, serviceSelect, setUrlParams, urlParams } from '../filters.js';

const SORTS = [
  ['cpu', 'CPU time'],
  ['duration', 'Duration'],
  ['blocked', 'Blocked time'],
  ['start', 'Newest'],
];

export async function renderListPage(main) {
  const store = await getStore();
  const params = urlParams();
  const results = el('div', { class: 'results' });
  const selected = new Set();

  const compareButton = el('button', {
    type: 'button',
    class: 'button primary',
    disabled: true,
    text: 'Compare 2 selected',
    onclick: () => {
      const [a, b] = [...selected];
      location.href = `/diff?a=${a}&b=${b}`;
    },
  });
  const updateCompare = () => {
    compareButton.disabled = selected.size !== 2;
    compareButton.textContent = selected.size === 2 ? 'Compare 2 selected' : `Tick 2 requests to compare (${selected.size}/2)`;
  };

  let nameTimer;
  const nameInput = el('input', {
    type: 'search',
    name: 'name',
    placeholder: 'e.g. GET /users',
    value: params.get('name') ?? '',
    oninput: () => {
      clearTimeout(nameTimer);
      nameTimer = setTimeout(() => {
        setUrlParams({ name: nameInput.value.trim() });
        load();
      }, 200);
    },
  });
  const sortSelect = el(
    'select',
    { name: 'sort', onchange: () => (setUrlParams({ sort: sortSelect.value === 'cpu' ? '' : sortSelect.value }), load()) },
    SORTS.map(([value, label]) => el('option', { value, text: label, selected: value === (params.get('sort') || 'cpu') })),
  );

  replace(
    main,
    el(
      'div',
      { class: 'page-head' },
      el('h1', { text: 'Requests' }),
      el('p', { class: 'lede', text: 'Root spans and the CPU time their code used. Open one to see its trace and flame graph.' }),
    ),
    el(
      'div',
      { class: 'filters card' },
      serviceSelect(store.services, params.get('service') ?? '', (value) => (setUrlParams({ service: value }), load())),
      field('Name contains', nameInput),
      rangeControls(() => load()),
      field('Sort by', sortSelect),
      el('button', { type: 'button', class: 'button', text: 'Refresh', onclick: () => load() }),
      el('span', { class: 'spacer' }),
      compareButton,
    ),
    results,
  );
  updateCompare();

  async function load() {
    const p = urlParams();
    const { from, until } = rangeFromUrl(p);
    let data;
    try {
      data = await getJson('roots', { service: p.get('service'), name: p.get('name'), sort: p.get('sort'), from, until, limit: 500 });
    } catch (error) {
      replace(results, errorBox(error));
      return;
    }
    renderRows(data, p);
  }

  function renderRows(data, p) {
    const serviceLink = `/service?${new URLSearchParams([...p].filter(([k]) => ['service', 'range', 'from', 'until'].includes(k)))}`;
    const summary = el(
      'p',
      { class: 'summary' },
      el('strong', { text: `${data.total} request${data.total === 1 ? '' : 's'}` }),
      data.total > data.roots.length ? ` (the first ${data.roots.length} shown)` : '',
      ' · ',
      `${formatNanos(data.cpu.totalNanos - data.cpu.unattributedNanos)} CPU in requests`,
      ' · ',
      el('span', { title: 'Startup, timers, garbage collection between requests…', text: `${formatNanos(data.cpu.unattributedNanos)} outside any request` }),
      ' · ',
      el('a', { href: serviceLink, text: 'Flame graph of all of it →' }),
    );
    if (data.roots.length === 0) {
      replace(
        results,
        summary,
        el(
          'div',
          { class: 'empty card' },
          el('p', { text: store.spans === 0 && store.samples === 0 ? 'The store is empty.' : 'No requests match these filters.' }),
          store.spans === 0 && store.samples === 0
            ? el('p', {}, 'Run your app under the agent, send it some requests, then refresh: ', el('code', { text: 'node --require @acme/span-profiles/register app.js' }))
            : null,
        ),
      );
      return;
    }
    const maxCpu = Math.max(...data.roots.map((r) => r.cpuNanos), 1);
    const sameDay = data.roots.every((r) => r.startMs === undefined || new Date(r.startMs).toDateString() === new Date().toDateString());
    const table = el(
      'table',
      { class: 'data-table roots' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { class: 'check', title: 'Tick two to compare' }),
          el('th', { text: 'Request' }),
          el('th', { text: 'Service' }),
          el('th', { text: 'Started' }),
          el('th', { class: 'num', text: 'Duration' }),
          el('th', { class: 'num', text: 'CPU' }),
          el('th', { class: 'num', title: 'Time the event loop ran other requests\' code (or no request\'s) while this one was open', text: 'Blocked' }),
          el('th', { class: 'bar-col', text: 'CPU share' }),
          el('th', { class: 'num', text: 'Samples' }),
        ),
      ),
      el(
        'tbody',
        {},
        data.roots.map((row) => {
          const href = `/span/${row.spanId}`;
          const checkbox = el('input', {
            type: 'checkbox',
            'aria-label': `Select ${row.name} for comparison`,
            checked: selected.has(row.spanId),
            onchange: (event) => {
              if (event.target.checked) selected.add(row.spanId);
              else selected.delete(row.spanId);
              updateCompare();
            },
          });
          return el(
            'tr',
            {
              class: 'clickable',
              dataset: { spanId: row.spanId },
              onclick: (event) => {
                if (event.target.closest('a, input')) return;
                location.href = href;
              },
            },
            el('td', { class: 'check' }, checkbox),
            el(
              'td',
              { class: 'name' },
              el('a', { href, text: row.name }),
              row.statusCode === 2 ? el('span', { class: 'badge error', text: 'error' }) : null,
              row.startMs === undefined ? el('span', { class: 'badge muted', title: 'The span itself is not in the store; only its CPU samples are.', text: 'samples only' }) : null,
            ),
            el('td', { class: 'service', text: row.service }),
            el('td', { class: 'time', title: formatTime(row.startMs), text: sameDay ? formatClock(row.startMs) : formatTime(row.startMs) }),
            el('td', { class: 'num', text: formatMs(row.durationMs) }),
            el('td', {
              class: 'num strong',
              title: row.estimate ? 'An estimate: this figure rests on one or two samples.' : '',
              text: row.cpuNanos > 0 ? `${row.estimate ? '~' : ''}${formatNanos(row.cpuNanos)}` : '–',
            }),
            el('td', { class: 'num blocked', dataset: { testid: 'blocked' }, text: row.blockedNanos > 0 ? formatNanos(row.blockedNanos) : '–' }),
            el(
              'td',
              { class: 'bar-col', title: row.durationMs ? `CPU is ${formatPercent(row.cpuNanos / 1e6, row.durationMs)} of this request's duration` : '' },
              el('span', { class: 'bar' }, el('span', { class: 'bar-fill', style: { width: `${(100 * row.cpuNanos) / maxCpu}%` } })),
            ),
            el('td', { class: 'num muted', text: row.samples || '–' }),
          );
        }),
      ),
    );
    replace(results, summary, el('div', { class: 'card table-card' }, table));
  }

  await load();
}
