// The filter controls the pages share (service, time range), kept in the page's URL so a refresh
// or a shared link shows the same selection. Relative ranges ("last 15 min") are re-evaluated on
// every load, so a refresh moves the window forward.
import { el } from './dom.js';

export const RANGES = [
  ['all', 'All data'],
  ['5m', 'Last 5 minutes'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['custom', 'Custom…'],
];

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The URL's query parameters. */
export function urlParams() {
  return new URLSearchParams(location.search);
}

/** Writes `values` into the URL's query without reloading (empty values removed). */
export function setUrlParams(values) {
  const params = urlParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === '') params.delete(key);
    else params.set(key, String(value));
  }
  const query = params.toString();
  history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}`);
}

/** {from, until} in Unix ms for the API, from the URL's `range` (and `from`/`until` when custom). */
export function rangeFromUrl(params = urlParams()) {
  const range = params.get('range') || 'all';
  if (range === 'custom') {
    return { from: toMs(params.get('from')), until: toMs(params.get('until')) };
  }
  const match = /^(\d+)([mhd])$/.exec(range);
  if (!match) return { from: undefined, until: undefined };
  return { from: Date.now() - Number(match[1]) * UNIT_MS[match[2]], until: undefined };
}

function toMs(value) {
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

function toLocalInput(ms) {
  if (!ms) return '';
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** A labelled control. */
export function field(label, control) {
  return el('label', { class: 'field' }, el('span', { class: 'field-label', text: label }), control);
}

/** The service select; `services` from /api/store. Calls onChange(value). */
export function serviceSelect(services, selected, onChange) {
  const select = el(
    'select',
    { name: 'service', onchange: () => onChange(select.value) },
    el('option', { value: '', text: 'All services' }),
    services.map((s) => el('option', { value: s, text: s, selected: s === selected })),
  );
  return field('Service', select);
}

/** The time range select, with from/until inputs shown for a custom range. Calls onChange(). */
export function rangeControls(onChange) {
  const params = urlParams();
  const current = params.get('range') || 'all';
  const from = el('input', { type: 'datetime-local', value: toLocalInput(toMs(params.get('from'))), 'aria-label': 'From' });
  const until = el('input', { type: 'datetime-local', value: toLocalInput(toMs(params.get('until'))), 'aria-label': 'Until' });
  const custom = el('span', { class: 'custom-range' }, from, el('span', { class: 'muted', text: 'to' }), until);
  custom.hidden = current !== 'custom';
  const applyCustom = () => {
    setUrlParams({ from: from.value ? new Date(from.value).getTime() : '', until: until.value ? new Date(until.value).getTime() : '' });
    onChange();
  };
  from.addEventListener('change', applyCustom);
  until.addEventListener('change', applyCustom);
  const select = el(
    'select',
    {
      name: 'range',
      onchange: () => {
        custom.hidden = select.value !== 'custom';
        setUrlParams({ range: select.value === 'all' ? '' : select.value, ...(select.value === 'custom' ? {} : { from: '', until: '' }) });
        onChange();
      },
    },
    RANGES.map(([value, label]) => el('option', { value, text: label, selected: value === current })),
  );
  return el('span', { class: 'range-controls' }, field('Time range', select), custom);
}
