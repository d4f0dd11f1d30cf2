// Plain-text tables for the terminal.

/** Left-aligned text table of `rows` (objects with the same keys), header from the first row's keys. */
export function formatTable(rows) {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0]);
  const cells = [columns, ...rows.map((row) => columns.map((column) => String(row[column] ?? '')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  const render = (line) => line.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  return [render(cells[0]), render(widths.map((width) => '-'.repeat(width))), ...cells.slice(1).map(render)].join('\n');
}

/** 0.9953 -> '99.53%'; null -> 'n/a'. */
export function percent(fraction, digits = 2) {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : 'n/a';
}

/** A number with fixed decimals, or 'n/a'. */
export function fixed(value, digits = 1) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
