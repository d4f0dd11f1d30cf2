/**
 * Which web frameworks the app has installed, and whether an instrumentation covers the installed version.
 * Without one, root spans carry only the HTTP method (`GET`, no `http.route`): every route lands in one row
 * of "CPU by span name" and one `span_name` in Pyroscope. The agent cannot fix that, but it must say so:
 * in the info-level startup summary and in `span-profiles doctor`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A web framework and the instrumentation that names its routes, if any. */
interface WebFramework {
  /** The package users install. */
  readonly module: string;
  /** Short name of the instrumentation (catalog name), or undefined when none exists. */
  readonly instrumentation: string | undefined;
  /** Versions it covers: at least `min`, below `below` (major.minor.patch). */
  readonly min?: string;
  readonly below?: string;
}

/**
 * The frameworks users run on Node. Ranges are those the instrumentations declare (each one's
 * `InstrumentationNodeModuleDefinition`); regenerate with the catalog.
 */
export const WEB_FRAMEWORKS: readonly WebFramework[] = [
  { module: 'express', instrumentation: 'express', min: '4.0.0', below: '6.0.0' },
  { module: 'fastify', instrumentation: 'fastify', min: '4.0.0', below: '6.0.0' },
  { module: 'koa', instrumentation: 'koa', min: '2.0.0', below: '4.0.0' },
  { module: '@hapi/hapi', instrumentation: 'hapi', min: '17.0.0', below: '22.0.0' },
  { module: '@nestjs/core', instrumentation: 'nestjs-core', min: '4.0.0', below: '12.0.0' },
  { module: 'restify', instrumentation: 'restify', min: '4.1.0', below: '13.0.0' },
  { module: 'connect', instrumentation: 'connect', min: '3.0.0', below: '4.0.0' },
  // Hono has no OpenTelemetry instrumentation (its @hono/otel is a middleware the app adds itself).
  { module: 'hono', instrumentation: undefined },
];

/** One installed framework and how it is covered. */
export interface FrameworkCoverage {
  module: string;
  version: string;
  /** The instrumentation that covers it and is loaded/enabled; undefined when none does. */
  instrumentation: string | undefined;
  /** Why it is not covered, for the user; undefined when covered. */
  gap: string | undefined;
}

function parseVersion(version: string): number[] {
  return version.split(/[.+-]/).slice(0, 3).map((part) => Number(part) || 0);
}

/** Whether `version` is in [min, below). */
export function versionInRange(version: string, min: string | undefined, below: string | undefined): boolean {
  const v = parseVersion(version);
  const compare = (other: string): number => {
    const o = parseVersion(other);
    for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== (o[i] ?? 0)) return (v[i] ?? 0) - (o[i] ?? 0);
    return 0;
  };
  return (min === undefined || compare(min) >= 0) && (below === undefined || compare(below) < 0);
}

/** The version of `module` the app resolves first among `dirs` (node_modules directories), if installed. */
function installedVersion(module: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, module, 'package.json'), 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The web frameworks installed under `dirs`, each with the instrumentation covering it. `enabled(name)`
 * says whether an instrumentation is on (OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS).
 */
export function webFrameworkCoverage(dirs: readonly string[], enabled: (instrumentation: string) => boolean): FrameworkCoverage[] {
  const out: FrameworkCoverage[] = [];
  for (const framework of WEB_FRAMEWORKS) {
    const version = installedVersion(framework.module, dirs);
    if (version === undefined) continue;
    let gap: string | undefined;
    if (framework.instrumentation === undefined) gap = 'no OpenTelemetry instrumentation exists for it';
    else if (!versionInRange(version, framework.min, framework.below)) {
      gap = `the ${framework.instrumentation} instrumentation covers ${framework.min} to below ${framework.below}`;
    } else if (!enabled(framework.instrumentation)) gap = `the ${framework.instrumentation} instrumentation is turned off`;
    out.push({ module: framework.module, version, instrumentation: gap === undefined ? framework.instrumentation : undefined, gap });
  }
  return out;
}

/** One line for the startup summary and doctor: `express 5.3.0, fastify 5.12.8; hono 4.6.0 not instrumented (...)`. */
export function describeFrameworkCoverage(coverage: readonly FrameworkCoverage[]): string {
  const covered = coverage.filter((c) => c.gap === undefined).map((c) => `${c.module} ${c.version}`);
  const gaps = coverage
    .filter((c) => c.gap !== undefined)
    .map((c) => `${c.module} ${c.version} has no instrumentation (${c.gap}): its root spans carry only the HTTP method, no route`);
  return [covered.join(', '), gaps.join('; ')].filter((part) => part !== '').join('; ');
}
