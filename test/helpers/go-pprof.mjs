// The independent decoder: `go tool pprof` (Debian golang-go) reads our profiles exactly as
// Pyroscope's Go code does. We parse its text output (-raw, -top); nothing here shares code
// with the agent's encoder.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const INSTALL_HINT = 'install it with `apt-get install -y golang-go`';

let goVersion;
function detectGo() {
  if (goVersion === undefined) {
    const result = spawnSync('go', ['version'], { encoding: 'utf8' });
    goVersion = result.status === 0 ? result.stdout.trim() : null;
  }
  return goVersion;
}

/**
 * Why go-pprof tests must skip, or undefined when `go` is available. Under CI=true a missing
 * `go` throws instead: CI must never silently skip the independent decoder.
 * Use: `test('...', { skip: goPprofSkipReason() }, ...)`.
 */
export function goPprofSkipReason() {
  if (detectGo()) return undefined;
  if (process.env.CI === 'true') throw new Error(`go is not installed but CI=true: ${INSTALL_HINT}`);
  return `go tool pprof unavailable: ${INSTALL_HINT}`;
}

/** True when `go tool pprof` can run; throws under CI=true when it can't. */
export function goPprofAvailable() {
  return goPprofSkipReason() === undefined;
}

async function goPprof(args) {
  if (!goPprofAvailable()) throw new Error(goPprofSkipReason());
  try {
    const { stdout } = await run('go', ['tool', 'pprof', '-symbolize=none', ...args], {
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, PPROF_TMPDIR: process.env.PPROF_TMPDIR ?? '/tmp' },
    });
    return stdout;
  } catch (err) {
    throw new Error(`go tool pprof ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

// A location line of -raw: "     3: 0x0 M=1 [F] name file:line[:col] s=start[(systemName)]",
// continuation lines (inlined frames) start with spaces only. Names may contain spaces
// ("Garbage Collection"), so prefer a file that looks like a path or URL, or is empty.
const LOCATION_HEAD = /^\s*(\d+): (0x[0-9a-f]+) (?:M=\d+ )?(?:\[F\] )?(.*)$/;
const FRAME_KNOWN_FILE = /^(.*?) ((?:file:|node:|\/|[A-Za-z]:\\)\S.*|):(\d+)(?::(\d+))? s=(\d+)(?:\(.*\))?$/;
const FRAME_ANY_FILE = /^(.*) (\S*):(\d+)(?::(\d+))? s=(\d+)(?:\(.*\))?$/;

function parseFrame(text) {
  const match = FRAME_KNOWN_FILE.exec(text) ?? FRAME_ANY_FILE.exec(text);
  if (!match) return { name: text.trim() || '??', file: '', line: 0 };
  return { name: match[1], file: match[2], line: Number(match[3]) };
}

// "span_id:[0123] span_name:[GET /users/:id]" -> [['span_id','0123'], ['span_name','GET /users/:id']]
function parseLabelLine(text) {
  const starts = [...text.matchAll(/(?:^|\s)([^\s:[\]]+):\[/g)];
  return starts.map((match, i) => {
    const valueStart = match.index + match[0].length;
    const end = i + 1 < starts.length ? starts[i + 1].index : text.length;
    const chunk = text.slice(valueStart, end).trimEnd();
    return [match[1], chunk.endsWith(']') ? chunk.slice(0, -1) : chunk];
  });
}

const INTEGER_VALUE = /^-?\d+(?: \S+)?$/;

/**
 * Runs `go tool pprof -raw <file>` and parses it into
 * { sampleTypes: ['samples/count', 'cpu/nanoseconds'], periodType, period,
 *   samples: [{ values: number[], labels: {key: string}, numLabels: {key: number}, stack: [leaf first] }],
 *   locations: Map<id, [{name, file, line}]> }.
 * `file` may be gzipped or not.
 */
export async function goPprofRaw(file) {
  const lines = (await goPprof(['-raw', file])).split('\n');
  const result = { sampleTypes: [], periodType: '', period: 0, samples: [], locations: new Map() };
  let section = 'header';
  let current;
  let lastLocation;
  const rawSamples = [];

  for (const line of lines) {
    if (section === 'header') {
      if (line.startsWith('PeriodType: ')) result.periodType = line.slice(12).trim().replace(' ', '/');
      else if (line.startsWith('Period: ')) result.period = Number(line.slice(8));
      else if (line === 'Samples:') section = 'sampleTypes';
      continue;
    }
    if (section === 'sampleTypes') {
      result.sampleTypes = line.trim().split(/\s+/).map((t) => t.replace('[dflt]', ''));
      section = 'samples';
      continue;
    }
    if (line === 'Locations') {
      section = 'locations';
      continue;
    }
    if (line === 'Mappings') {
      section = 'mappings';
      continue;
    }
    if (section === 'samples') {
      const sampleMatch = /^\s*(-?\d+(?:\s+-?\d+)*):\s*((?:\d+\s*)*)$/.exec(line);
      if (sampleMatch) {
        current = {
          values: sampleMatch[1].trim().split(/\s+/).map(Number),
          locationIds: sampleMatch[2].trim() ? sampleMatch[2].trim().split(/\s+/).map(Number) : [],
          labelLines: [],
        };
        rawSamples.push(current);
      } else if (line.trim() && current) {
        current.labelLines.push(parseLabelLine(line.trim()));
      }
      continue;
    }
    if (section === 'locations') {
      const head = LOCATION_HEAD.exec(line);
      if (head) {
        lastLocation = [];
        result.locations.set(Number(head[1]), lastLocation);
        if (head[3].trim()) lastLocation.push(parseFrame(head[3]));
        else lastLocation.address = head[2];
      } else if (line.trim() && lastLocation) {
        lastLocation.push(parseFrame(line.trim()));
      }
    }
  }

  // -raw prints string labels on one line and numeric labels on the next; a sample with only
  // one kind has one line, so classify single lines by what the key is elsewhere in the profile.
  const stringKeys = new Set();
  const numericKeys = new Set();
  for (const sample of rawSamples) {
    if (sample.labelLines.length === 2) {
      for (const [key] of sample.labelLines[0]) stringKeys.add(key);
      for (const [key] of sample.labelLines[1]) numericKeys.add(key);
    }
    for (const pairs of sample.labelLines) {
      for (const [key, value] of pairs) if (!INTEGER_VALUE.test(value)) stringKeys.add(key);
    }
  }
  const isNumericLine = (pairs) =>
    pairs.every(([key, value]) => !stringKeys.has(key) && (numericKeys.has(key) || INTEGER_VALUE.test(value)));

  for (const sample of rawSamples) {
    const labels = {};
    const numLabels = {};
    sample.labelLines.forEach((pairs, index) => {
      const numeric = sample.labelLines.length === 2 ? index === 1 : isNumericLine(pairs);
      for (const [key, value] of pairs) {
        if (numeric) numLabels[key] = Number(value.split(' ')[0]);
        else labels[key] = value;
      }
    });
    const stack = sample.locationIds.flatMap((id) => {
      const frames = result.locations.get(id);
      if (!frames || frames.length === 0) return [frames?.address ?? '??'];
      return frames.map((frame) => frame.name);
    });
    result.samples.push({ values: sample.values, labels, numLabels, stack });
  }
  return result;
}

const UNIT_NANOS = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, mins: 60e9, hrs: 3600e9 };

/** "30ms" -> 30e6 (nanoseconds), "1.50s" -> 1.5e9, "3" -> 3, "0" -> 0; other units: the number. */
function parseQuantity(text) {
  const match = /^(-?[\d.]+(?:e[+-]?\d+)?)([a-zµ]*)$/i.exec(text);
  if (!match) return Number.NaN;
  const scale = UNIT_NANOS[match[2]] ?? 1;
  return Number(match[1]) * scale;
}

/**
 * Runs `go tool pprof -top` and parses the table into
 * { total, rows: [{ name, flat, flatPct, sumPct, cum, cumPct }] } where flat/cum/total are
 * nanoseconds for time values and plain numbers otherwise.
 * opts: { sampleIndex ('cpu' | 'samples' ...), tagFocus ('span_name=GET /users/:id' — a regexp),
 * tagIgnore, focus, args: [more pprof flags] }.
 */
export async function goPprofTop(file, { sampleIndex, tagFocus, tagIgnore, focus, args = [] } = {}) {
  const flags = ['-top', '-nodefraction=0', '-edgefraction=0'];
  if (sampleIndex) flags.push(`-sample_index=${sampleIndex}`);
  if (tagFocus) flags.push(`-tagfocus=${tagFocus}`);
  if (tagIgnore) flags.push(`-tagignore=${tagIgnore}`);
  if (focus) flags.push(`-focus=${focus}`);
  const output = await goPprof([...flags, ...args, file]);
  const totalMatch = /of (\S+) total/.exec(output);
  const rows = [];
  let inTable = false;
  for (const line of output.split('\n')) {
    if (/^\s*flat\s+flat%\s+sum%\s+cum\s+cum%/.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    const match = /^\s*(\S+)\s+(\S+)%\s+(\S+)%\s+(\S+)\s+(\S+)%\s+(.*)$/.exec(line);
    if (!match) continue;
    rows.push({
      name: match[6],
      flat: parseQuantity(match[1]),
      flatPct: Number(match[2]),
      sumPct: Number(match[3]),
      cum: parseQuantity(match[4]),
      cumPct: Number(match[5]),
    });
  }
  return { total: totalMatch ? parseQuantity(totalMatch[1]) : 0, rows, output };
}
