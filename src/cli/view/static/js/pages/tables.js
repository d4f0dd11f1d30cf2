// Function tables shown beside flame graphs: the hottest functions (self and total CPU), and for a
// diff the functions whose self CPU changed most.
import { el, formatLocation, formatNanos, formatPercent, shortLocation } from '../dom.js';

function functionCell(fn, onPick) {
  return el(
    'td',
    { class: 'fn' },
    el('button', { type: 'button', class: 'link', title: 'Find in the flame graph', text: fn.name, onclick: () => onPick(fn) }),
    fn.file ? el('div', { class: 'location', title: formatLocation(fn.file, fn.line), text: shortLocation(fn.file, fn.line, 3) }) : null,
  );
}

/** Hottest functions by self CPU; `totalNanos` is the whole of the selection, for percentages. */
export function hottestTable(functions, totalNanos, onPick) {
  if (!functions || functions.length === 0) return el('p', { class: 'empty', text: 'No CPU samples.' });
  return el(
    'table',
    { class: 'data-table functions' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Function' }), el('th', { class: 'num', text: 'Self' }), el('th', { class: 'num', text: 'Total' }), el('th', { class: 'bar-col', text: 'Self share' }))),
    el(
      'tbody',
      {},
      functions.map((fn) =>
        el(
          'tr',
          {},
          functionCell(fn, onPick),
          el('td', { class: 'num strong', text: formatNanos(fn.selfNanos) }),
          el('td', { class: 'num', text: formatNanos(fn.totalNanos) }),
          el(
            'td',
            { class: 'bar-col' },
            el('span', { class: 'bar' }, el('span', { class: 'bar-fill', style: { width: `${(100 * fn.selfNanos) / (totalNanos || 1)}%` } })),
            el('span', { class: 'bar-label', text: formatPercent(fn.selfNanos, totalNanos) }),
          ),
        ),
      ),
    ),
  );
}

/** Functions whose self CPU differs most between A and B. */
export function changesTable(changes, onPick) {
  if (!changes || changes.length === 0) return el('p', { class: 'empty', text: 'No CPU samples on either side.' });
  return el(
    'table',
    { class: 'data-table functions' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Function' }), el('th', { class: 'num', text: 'Self in A' }), el('th', { class: 'num', text: 'Self in B' }), el('th', { class: 'num', text: 'B − A' }))),
    el(
      'tbody',
      {},
      changes.map((fn) => {
        const change = fn.selfB - fn.selfA;
        return el(
          'tr',
          {},
          functionCell(fn, onPick),
          el('td', { class: 'num', text: formatNanos(fn.selfA) }),
          el('td', { class: 'num', text: formatNanos(fn.selfB) }),
          el('td', { class: `num strong ${change > 0 ? 'more' : change < 0 ? 'less' : ''}`, text: `${change > 0 ? '+' : change < 0 ? '−' : ''}${formatNanos(Math.abs(change))}` }),
        );
      }),
    ),
  );
}
