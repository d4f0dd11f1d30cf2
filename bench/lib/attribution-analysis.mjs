// Scores the profiles the agent uploaded against the workload's ground truth.
//
// A sample is "in a route function" when its stack (searched from the leaf) holds a function that
// only one route calls (workload/routes/*: the kernels and the route handler); the first such frame
// names the route the CPU really belongs to. A sample is "labelled" when it carries a span_id.
//   precision = route-function samples whose span_id is a root span of that route / labelled route-function samples
//   recall    = labelled route-function samples / route-function samples
//   coverage  = root spans with >= 1 sample / root spans whose measured CPU is >= COVERAGE_MIN_CPU_MS
// Every figure is computed twice: weighted by sample count and by the sample's cpu/nanoseconds.

export const COVERAGE_MIN_CPU_MS = 30;
const EXAMPLES_KEPT = 5;

const newTally = () => ({ count: 0, cpuNs: 0 });
function add(tally, count, cpuNs) {
  tally.count += count;
  tally.cpuNs += cpuNs;
}
const fractionOf = (part, whole) => ({
  count: whole.count > 0 ? part.count / whole.count : null,
  cpu: whole.cpuNs > 0 ? part.cpuNs / whole.cpuNs : null,
});

/** Groups samples under a key, keeping tallies and one example stack per key; returns the biggest first. */
class Breakdown {
  constructor() {
    this.entries = new Map();
  }
  add(key, count, cpuNs, stack) {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { key, ...newTally(), exampleStack: stack.slice(0, 8) }));
    add(entry, count, cpuNs);
  }
  top(limit = EXAMPLES_KEPT) {
    return [...this.entries.values()].sort((a, b) => b.count - a.count).slice(0, limit);
  }
}

/**
 * @param samples     decoded samples from every upload: { values, labels, stack (leaf first) }
 * @param sampleTypes e.g. ['samples/count', 'cpu/nanoseconds']
 * @param groundTruth the workload's /ground-truth answer
 * @param exportedSpans optional flattened OTLP spans (test/helpers/otlp-receiver.mjs), to confirm the
 *        ground truth's span ids are exported local roots carrying pyroscope.profile.id
 */
export function analyzeAttribution({ samples, sampleTypes, groundTruth, exportedSpans }) {
  const countIndex = sampleTypes.indexOf('samples/count');
  const cpuIndex = sampleTypes.indexOf('cpu/nanoseconds');
  if (countIndex === -1 || cpuIndex === -1) throw new Error(`profile sample types ${sampleTypes.join(', ')} lack samples/count or cpu/nanoseconds`);

  const routeOfFunction = new Map();
  for (const [route, functions] of Object.entries(groundTruth.functionsByRoute)) {
    for (const name of functions) routeOfFunction.set(name, route);
  }
  const backgroundFunctions = new Set(groundTruth.backgroundFunctions);
  const routeOfSpan = new Map();
  const measuredCpuMsOfSpan = new Map();
  for (const [route, spanId, , cpuMicros] of groundTruth.requests) {
    if (!spanId) continue;
    routeOfSpan.set(spanId, route);
    measuredCpuMsOfSpan.set(spanId, cpuMicros / 1000);
  }

  const all = newTally();
  const allLabelled = newTally();
  const routeSamples = newTally();
  const routeLabelled = newTally();
  const routeCorrect = newTally();
  const background = newTally();
  const backgroundLabelled = newTally();
  const perRoute = {};
  const misattributed = new Breakdown();
  const unlabelled = new Breakdown();
  const backgroundLeaks = new Breakdown();
  const samplesOfSpan = new Map();
  const profiledRouteCpuNsOfSpan = new Map();
  let unknownSpanIds = 0;

  for (const sample of samples) {
    const count = sample.values[countIndex];
    const cpuNs = sample.values[cpuIndex];
    const spanId = sample.labels.span_id;
    add(all, count, cpuNs);
    if (spanId) {
      add(allLabelled, count, cpuNs);
      samplesOfSpan.set(spanId, (samplesOfSpan.get(spanId) ?? 0) + count);
      if (!routeOfSpan.has(spanId)) unknownSpanIds += count;
    }

    let blamed;
    let route;
    for (const frame of sample.stack) {
      route = routeOfFunction.get(frame);
      if (route) {
        blamed = frame;
        break;
      }
      if (backgroundFunctions.has(frame)) {
        blamed = frame;
        break;
      }
    }
    if (!blamed) continue;

    if (!route) {
      add(background, count, cpuNs);
      if (spanId) {
        add(backgroundLabelled, count, cpuNs);
        backgroundLeaks.add(`${blamed} labelled ${routeOfSpan.get(spanId) ?? 'unknown span'}`, count, cpuNs, sample.stack);
      }
      continue;
    }

    perRoute[route] ??= { samples: newTally(), labelled: newTally(), correct: newTally() };
    add(routeSamples, count, cpuNs);
    add(perRoute[route].samples, count, cpuNs);
    if (!spanId) {
      unlabelled.add(blamed, count, cpuNs, sample.stack);
      continue;
    }
    add(routeLabelled, count, cpuNs);
    add(perRoute[route].labelled, count, cpuNs);
    const labelledRoute = routeOfSpan.get(spanId);
    if (labelledRoute === route) {
      add(routeCorrect, count, cpuNs);
      add(perRoute[route].correct, count, cpuNs);
      profiledRouteCpuNsOfSpan.set(spanId, (profiledRouteCpuNsOfSpan.get(spanId) ?? 0) + cpuNs);
    } else {
      misattributed.add(`${blamed} (${route}) labelled ${labelledRoute ?? 'a span id not in the ground truth'}`, count, cpuNs, sample.stack);
    }
  }

  // Coverage: root spans that spent at least COVERAGE_MIN_CPU_MS in route functions.
  const heavySpans = [...measuredCpuMsOfSpan].filter(([, ms]) => ms >= COVERAGE_MIN_CPU_MS);
  const uncovered = heavySpans.filter(([spanId]) => !samplesOfSpan.has(spanId));
  // Per covered heavy span: CPU the profile gives it in its route's functions / CPU the app measured.
  const cpuRatios = heavySpans
    .filter(([spanId]) => profiledRouteCpuNsOfSpan.has(spanId))
    .map(([spanId, ms]) => profiledRouteCpuNsOfSpan.get(spanId) / 1e6 / ms)
    .sort((a, b) => a - b);
  const measuredRouteCpuMs = [...measuredCpuMsOfSpan.values()].reduce((sum, ms) => sum + ms, 0);

  const result = {
    requests: groundTruth.requests.length,
    requestsWithoutSpan: groundTruth.requests.filter(([, spanId]) => !spanId).length,
    failures: groundTruth.failures,
    samples: { all, labelled: allLabelled, inRouteFunctions: routeSamples, unknownSpanIdSamples: unknownSpanIds },
    precision: fractionOf(routeCorrect, routeLabelled),
    recall: fractionOf(routeLabelled, routeSamples),
    coverage: {
      minCpuMs: COVERAGE_MIN_CPU_MS,
      spans: heavySpans.length,
      covered: heavySpans.length - uncovered.length,
      fraction: heavySpans.length > 0 ? (heavySpans.length - uncovered.length) / heavySpans.length : null,
      uncoveredExamples: uncovered.slice(0, EXAMPLES_KEPT).map(([spanId, ms]) => ({ spanId, route: routeOfSpan.get(spanId), cpuMs: ms })),
    },
    // Profile CPU in route functions / CPU the app measured there: well under 1 means lost samples.
    profiledOverMeasuredCpu: measuredRouteCpuMs > 0 ? routeSamples.cpuNs / 1e6 / measuredRouteCpuMs : null,
    heavySpanCpuRatio: {
      median: cpuRatios.length ? cpuRatios[cpuRatios.length >> 1] : null,
      p10: cpuRatios.length ? cpuRatios[Math.floor(cpuRatios.length * 0.1)] : null,
      p90: cpuRatios.length ? cpuRatios[Math.floor(cpuRatios.length * 0.9)] : null,
    },
    background: {
      samples: background,
      labelled: backgroundLabelled,
      labelledFraction: fractionOf(backgroundLabelled, background),
      leaks: backgroundLeaks.top(),
    },
    perRoute: Object.fromEntries(
      Object.entries(perRoute).map(([route, t]) => [
        route,
        { samples: t.samples.count, precision: fractionOf(t.correct, t.labelled), recall: fractionOf(t.labelled, t.samples) },
      ]),
    ),
    misattributed: misattributed.top(),
    unlabelled: unlabelled.top(),
  };
  if (exportedSpans) result.spans = checkGroundTruthSpans(groundTruth, exportedSpans);
  return result;
}

/** How many ground-truth span ids were exported as local root spans with pyroscope.profile.id = their id. */
function checkGroundTruthSpans(groundTruth, exportedSpans) {
  const byId = new Map(exportedSpans.map((span) => [span.spanId, span]));
  let exported = 0;
  let roots = 0;
  let profileIdSet = 0;
  for (const [, spanId] of groundTruth.requests) {
    const span = spanId && byId.get(spanId);
    if (!span) continue;
    exported++;
    if (!span.parentSpanId || span.parentIsRemote) roots++;
    if (span.attributes['pyroscope.profile.id'] === spanId) profileIdSet++;
  }
  return { groundTruth: groundTruth.requests.length, exported, roots, profileIdSet, totalExported: exportedSpans.length };
}
