/**
 * `span-profiles doctor`: checks what the agent would do in this environment, with this Node: the
 * resolved configuration (secrets redacted), Node support, the context binding mode and why, whether the
 * native profiler loads, whether the configured Pyroscope and OTLP endpoints answer, whether the store is
 * writable; and says what to change for each problem.
 */

import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { readConfig, type ConfigReport } from '../config';
import { checkNodeSupport } from '../node-support';
import { appModuleDirectories, isInstrumentationEnabled } from '../tracing/instrumentations';
import { describeFrameworkCoverage, webFrameworkCoverage } from '../tracing/web-frameworks';
import { detectBindingMode } from '../linking/context-binding';
import { loadNativeProfiler } from '../profiler/native-profiler';
import { stripUrlCredentials } from '../redact';
import { AGENT_VERSION } from '../version';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, parsePositiveInt } from './args';
import { truncateEnd } from './format';
import type { Subcommand } from './main';

const DEFAULT_TIMEOUT_MS = 2000;
const WIDTH = 80;

const OPTIONS = {
  timeout: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  return [
    'Usage: span-profiles doctor [options]',
    '',
    'Checks what the agent would do here: the configuration it resolves from the',
    'environment (secrets redacted), whether this Node is supported, which context',
    'binding it would use and why, whether the native profiler loads, whether the',
    'configured Pyroscope and OTLP endpoints answer, and whether the store is',
    'writable. Run it with the environment and the Node your app runs with.',
    '',
    'Options:',
    `  --timeout MS   how long to wait for each endpoint (default ${DEFAULT_TIMEOUT_MS})`,
    '  --all          list every variable, not only those set',
    '  --json         the checks and configuration as JSON',
    '  -h, --help     this text',
    '',
    'Exit status: 0 all good, 1 something needs attention, 2 bad arguments.',
  ].join('\n');
}

/** One line of the verdict. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  /** What to change, for warn and fail. */
  fix?: string;
}

/** The result of probing an endpoint. */
export interface ProbeResult {
  reachable: boolean;
  /** `HTTP 200`, `connected`, or the error code. */
  detail: string;
  status?: number;
}

/**
 * GETs `url` with a deadline: any HTTP answer means reachable. Sends no credentials. Never rejects.
 */
export function probeHttp(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve({ reachable: false, detail: 'not a valid URL' });
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (client === undefined) {
      resolve({ reachable: false, detail: `unsupported scheme ${parsed.protocol}` });
      return;
    }
    const request = client.get(parsed, { timeout: timeoutMs, headers: { 'user-agent': `span-profiles-doctor/${AGENT_VERSION}` } }, (response) => {
      response.resume();
      resolve({ reachable: true, status: response.statusCode, detail: `HTTP ${response.statusCode}` });
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => {
      resolve({ reachable: false, detail: error.code === 'ETIMEDOUT' ? `no answer within ${timeoutMs} ms` : (error.code ?? error.message) });
    });
  });
}

/** Opens a TCP connection to the URL's host and port (gRPC endpoints do not answer HTTP/1). Never rejects. */
export function probeTcp(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve({ reachable: false, detail: 'not a valid URL' });
      return;
    }
    const port = Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80);
    const socket = net.connect({ host: parsed.hostname.replace(/^\[|\]$/g, ''), port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve({ reachable: false, detail: `no answer within ${timeoutMs} ms` });
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ reachable: true, detail: 'connected' });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ reachable: false, detail: error.code ?? error.message }));
  });
}

/** Whether files can be created in `dir` (or, when it does not exist yet, in the nearest parent that does). */
async function checkStoreWritable(dir: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const stat = await fsp.stat(dir);
    if (!stat.isDirectory()) return { ok: false, detail: `${dir} is not a directory` };
    const probe = path.join(dir, `.doctor-${process.pid}.tmp`); // readers ignore *.tmp
    await fsp.writeFile(probe, '');
    await fsp.rm(probe, { force: true });
    return { ok: true, detail: `${dir} is writable` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return { ok: false, detail: `${dir} cannot be created: a part of its path is a file (ENOTDIR)` };
    if (code !== 'ENOENT') return { ok: false, detail: `${dir} is not writable (${code ?? (error as Error).message})` };
  }
  // Missing: the agent creates it. Find what exists above it and whether it can hold a directory.
  let parent = path.dirname(dir);
  for (;;) {
    try {
      const stat = await fsp.stat(parent);
      if (!stat.isDirectory()) return { ok: false, detail: `${parent} is a file, so ${dir} cannot be created` };
      await fsp.access(parent, fsp.constants.W_OK);
      return { ok: true, detail: `${dir} does not exist yet; the agent will create it` };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return { ok: false, detail: `${dir} cannot be created under ${parent} (${code})` };
      if (path.dirname(parent) === parent) return { ok: false, detail: `no part of ${dir} exists` };
      parent = path.dirname(parent);
    }
  }
}

/** Runs every check against `env`. Exported for tests. */
export async function runChecks(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ report: ConfigReport; checks: DoctorCheck[] }> {
  const report = readConfig(env);
  const { config } = report;
  const checks: DoctorCheck[] = [];

  for (const warning of report.warnings) {
    checks.push({ name: 'configuration', status: 'warn', detail: warning, fix: 'fix the value named above, or unset it to get the default' });
  }
  if (config.disabled) {
    checks.push({ name: 'agent', status: 'warn', detail: 'OTEL_SDK_DISABLED=true: the agent does nothing', fix: 'unset OTEL_SDK_DISABLED' });
  }

  const support = checkNodeSupport();
  checks.push(
    support.supported
      ? { name: 'node', status: 'ok', detail: `Node.js ${process.versions.node} is supported` }
      : { name: 'node', status: 'fail', detail: support.message ?? `Node.js ${process.versions.node} is not supported`, fix: 'run the app on Node.js 22.15 or later (24 recommended)' },
  );

  const binding = detectBindingMode();
  checks.push({
    name: 'context binding',
    status: 'ok',
    detail: `${binding.mode}: ${binding.reason}`,
  });

  if (!config.profiling.enabled) {
    checks.push({ name: 'profiler', status: 'skip', detail: 'OTEL_PYROSCOPE_START_PROFILING=false: no CPU profiles' });
  } else {
    const native = loadNativeProfiler();
    checks.push(
      native.ok
        ? { name: 'profiler', status: 'ok', detail: `@datadog/pprof loads (${process.platform}-${process.arch}, ABI ${process.versions.modules})` }
        : {
            name: 'profiler',
            status: 'fail',
            detail: native.reason,
            fix: 'reinstall with the same Node, OS and CPU as the app (npm ci); tracing still runs without it',
          },
    );
  }

  const probes: Array<Promise<void>> = [];
  const server = config.pyroscope.serverAddress;
  if (server !== undefined && config.profiling.enabled) {
    const base = stripUrlCredentials(server).replace(/\/$/, '');
    probes.push(
      probeHttp(`${base}/ready`, timeoutMs).then((probe) => {
        checks.push(
          probe.reachable
            ? { name: 'pyroscope', status: 'ok', detail: `${base} answers (${probe.detail} on /ready)` }
            : {
                name: 'pyroscope',
                status: 'fail',
                detail: `${base} does not answer: ${probe.detail}`,
                fix: 'start Pyroscope or correct PYROSCOPE_SERVER_ADDRESS (unset it to keep profiles in the local store)',
              },
        );
      }),
    );
  } else if (config.profiling.enabled) {
    checks.push({ name: 'pyroscope', status: 'skip', detail: `PYROSCOPE_SERVER_ADDRESS is not set: profiles go to ${profileDestinations(config)}` });
  }

  if (config.profiling.enabled && config.profiles.exporters.includes('otlp')) {
    const { displayUrl, protocol } = config.profiles.otlp;
    const grpc = protocol === 'grpc';
    probes.push(
      (grpc ? probeTcp(displayUrl, timeoutMs) : probeHttp(displayUrl, timeoutMs)).then((probe) => {
        if (!probe.reachable) {
          checks.push({
            name: 'otlp profiles',
            status: 'fail',
            detail: `${displayUrl} (${protocol}) does not answer: ${probe.detail}`,
            fix: 'start the collector or correct OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT',
          });
        } else if (!grpc && probe.status === 404) {
          // A Collector without the profiles feature gate (or a backend without the signal) has no such route.
          checks.push({
            name: 'otlp profiles',
            status: 'fail',
            detail: `${displayUrl} answers HTTP 404: the server has no OTLP profiles endpoint there`,
            fix:
              'for an OpenTelemetry Collector, run it with --feature-gates=service.profilesSupport and a profiles pipeline; ' +
              'for Pyroscope, use version 1.16 or later (the path is /v1development/profiles on its HTTP port)',
          });
        } else {
          checks.push({ name: 'otlp profiles', status: 'ok', detail: `${displayUrl} (${protocol}) answers (${probe.detail})` });
        }
      }),
    );
  } else if (config.profiling.enabled) {
    checks.push({ name: 'otlp profiles', status: 'skip', detail: `OTEL_PROFILES_EXPORTER does not name otlp: profiles go to ${profileDestinations(config)}` });
  }

  const otlp = config.traces.otlpEndpoint;
  if (config.traces.exporters.includes('otlp') && otlp !== undefined) {
    const grpc = config.traces.otlpProtocol === 'grpc';
    probes.push(
      (grpc ? probeTcp(otlp, timeoutMs) : probeHttp(otlp, timeoutMs)).then((probe) => {
        checks.push(
          probe.reachable
            ? { name: 'otlp', status: 'ok', detail: `${otlp} (${config.traces.otlpProtocol}) answers (${probe.detail})` }
            : {
                name: 'otlp',
                status: 'fail',
                detail: `${otlp} (${config.traces.otlpProtocol}) does not answer: ${probe.detail}`,
                fix: 'start the collector or correct OTEL_EXPORTER_OTLP_ENDPOINT (unset it to keep spans in the local store)',
              },
        );
      }),
    );
  } else {
    const where = config.traces.exporters.length === 0 ? 'nowhere (OTEL_TRACES_EXPORTER=none)' : config.traces.exporters.join(', ');
    checks.push({ name: 'otlp', status: 'skip', detail: `spans go to ${where}` });
  }

  if (config.store.profiles || config.store.spans) {
    const kept = [config.store.profiles && 'profiles', config.store.spans && 'spans'].filter(Boolean).join(' and ');
    const writable = await checkStoreWritable(config.store.dir);
    checks.push(
      writable.ok
        ? { name: 'store', status: 'ok', detail: `${kept} go to the local store; ${writable.detail}` }
        : { name: 'store', status: 'fail', detail: `${kept} go to the local store, but ${writable.detail}`, fix: 'set SPAN_PROFILES_DIR to a writable directory' },
    );
  } else {
    checks.push({ name: 'store', status: 'skip', detail: 'the local store is not used (profiles and spans go to backends)' });
  }

  // Frameworks resolved from the working directory, as the app started from it would resolve them.
  const frameworks = webFrameworkCoverage(appModuleDirectories(''), (name) => isInstrumentationEnabled(config.instrumentations, name));
  if (frameworks.length === 0) {
    checks.push({ name: 'web frameworks', status: 'skip', detail: `none installed under ${process.cwd()}` });
  } else if (frameworks.every((f) => f.gap === undefined)) {
    checks.push({ name: 'web frameworks', status: 'ok', detail: `instrumented: ${describeFrameworkCoverage(frameworks)}` });
  } else {
    checks.push({
      name: 'web frameworks',
      status: 'warn',
      detail: describeFrameworkCoverage(frameworks),
      fix: 'use a covered version, turn its instrumentation on, or name spans in the app (span.updateName)',
    });
  }

  await Promise.all(probes);
  const order = ['configuration', 'agent', 'node', 'context binding', 'profiler', 'pyroscope', 'otlp profiles', 'otlp', 'store', 'web frameworks'];
  checks.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { report, checks };
}

/** Where profiles go, for people: `Pyroscope http://... + OTLP http://... + local store`. */
function profileDestinations(config: ConfigReport['config'], separator = ', '): string {
  const names = config.profiles.exporters.map((name) => {
    if (name === 'pyroscope') return `Pyroscope ${stripUrlCredentials(config.pyroscope.serverAddress ?? '')}`;
    if (name === 'otlp') return `OTLP ${config.profiles.otlp.displayUrl}`;
    return 'local store';
  });
  return names.length > 0 ? names.join(separator) : 'nowhere';
}

const MARK: Record<DoctorCheck['status'], string> = { ok: '[ok]   ', warn: '[warn] ', fail: '[FAIL] ', skip: '[--]   ' };

/** Wraps `text` at spaces into lines of at most `width` columns (a longer word gets its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** `mark` then `text` wrapped to {@link WIDTH}, continuation lines aligned under the text. */
function markedLines(mark: string, text: string): string[] {
  const indent = ' '.repeat(mark.length);
  return wrap(text, WIDTH - mark.length).map((l, i) => (i === 0 ? mark : indent) + l);
}

function renderText(report: ConfigReport, checks: DoctorCheck[], all: boolean): string[] {
  const { config } = report;
  const out: string[] = [];
  out.push(`span-profiles ${AGENT_VERSION} doctor, Node.js ${process.versions.node} (${process.platform}-${process.arch})`);
  out.push('');
  out.push(`Service        ${config.serviceName} (from ${config.serviceNameSource})`);
  out.push(truncateEnd(`Profiles       ${!config.profiling.enabled ? 'off' : profileDestinations(config, ' + ')}`, WIDTH));
  if (config.profiling.enabled) {
    const { heap, wall, sourceMaps } = config.profiling;
    const kinds = ['cpu', wall && 'wall', heap.enabled && `heap (every ${Math.round(heap.samplingIntervalBytes / 1024)} KiB, ${heap.stackDepth} frames)`].filter(Boolean);
    out.push(truncateEnd(`Profile kinds  ${kinds.join(', ')}; source maps ${sourceMaps ? 'on' : 'off'}`, WIDTH));
  }
  out.push(`Spans          ${config.traces.exporters.length === 0 ? 'none' : config.traces.exporters.map((e) => (e === 'otlp' ? `otlp ${config.traces.otlpEndpoint ?? ''}`.trim() : e)).join(', ')}`);
  out.push(truncateEnd(`Store          ${config.store.dir}`, WIDTH));
  out.push('');
  const entries = report.entries.filter((e) => all || e.isSet);
  out.push(all ? 'Configuration (every variable; * = set)' : entries.length === 0 ? 'Configuration: no variable set, all defaults' : 'Configuration (variables set; --all lists every one)');
  const nameWidth = Math.min(40, Math.max(0, ...entries.map((e) => e.name.length)));
  for (const entry of entries) {
    const value = entry.value === '' ? '(empty)' : entry.value;
    out.push(truncateEnd(`${all && entry.isSet ? '* ' : '  '}${entry.name.padEnd(nameWidth)}  ${value}`, WIDTH));
  }
  out.push('');
  out.push('Checks');
  for (const check of checks) {
    out.push(...markedLines(MARK[check.status], `${check.name}: ${check.detail}`));
    if (check.fix !== undefined) out.push(...markedLines('       -> ', check.fix));
  }
  const problems = checks.filter((c) => c.status === 'fail' || c.status === 'warn').length;
  out.push('');
  out.push(problems === 0 ? 'All good.' : `${problems} thing${problems === 1 ? '' : 's'} to look at (see -> above).`);
  return out;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS, 0);
  if (values.help) {
    process.stdout.write(usage() + '\n');
    return EXIT_OK;
  }
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parsePositiveInt('timeout', values.timeout as string);
  const { report, checks } = await runChecks(process.env, timeoutMs);
  if (values.json) {
    process.stdout.write(JSON.stringify({ version: AGENT_VERSION, node: process.versions.node, checks, configuration: report.entries }, null, 2) + '\n');
  } else {
    process.stdout.write(renderText(report, checks, Boolean(values.all)).join('\n') + '\n');
  }
  return checks.some((c) => c.status === 'fail' || c.status === 'warn') ? EXIT_FAILURE : EXIT_OK;
}

/** `span-profiles doctor`. */
export const doctorCommand: Subcommand = {
  summary: 'check the configuration, Node, the profiler and the endpoints',
  usage,
  run,
};
