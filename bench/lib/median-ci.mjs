// A median with its 95 % confidence interval, distribution-free: the interval between the order
// statistics whose ranks the binomial(n, 1/2) distribution puts 2.5 % beyond on each side. With fewer
// than 6 values no such pair exists and the interval is the whole range (marked exact: false).

function binomialCdf(k, n) {
  let sum = 0;
  let term = 0.5 ** n; // P(X = 0)
  for (let i = 0; i <= k; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/** { median, low, high, n, exact } of the finite values; null when there are none. */
export function medianWithInterval(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return null;
  const mid = n >> 1;
  const median = n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  // Largest k with P(X <= k - 1) <= 0.025: [x(k), x(n - k + 1)] covers the median with >= 95 %.
  let k = 0;
  while (k + 1 <= n && binomialCdf(k, n) <= 0.025) k++;
  if (k === 0) return { median, low: sorted[0], high: sorted[n - 1], n, exact: false };
  return { median, low: sorted[k - 1], high: sorted[n - k], n, exact: true };
}

/** `12.3 [11.9, 13.0]` with `digits` decimals. */
export function formatInterval(stat, digits = 1) {
  if (!stat) return 'n/a';
  return `${stat.median.toFixed(digits)} [${stat.low.toFixed(digits)}, ${stat.high.toFixed(digits)}]${stat.exact ? '' : '*'}`;
}
