/**
 * Which programs the agent starts in. NODE_OPTIONS reaches every Node process of a container: `npm start`
 * itself, `npx`, build tools, health-check scripts. Instrumenting those costs start-up time and produces
 * confusing services, so a deny list (package managers and build tools by default) keeps them out, and an
 * allow list, when set, names the only programs the agent starts in.
 */
import * as path from 'node:path';
import { packageNameIn } from './app-package';

/** Programs the agent stays out of unless SPAN_PROFILES_PROCESS_DENY says otherwise. */
export const DEFAULT_DENIED_PROGRAMS = ['npm', 'npx', 'yarn', 'pnpm', 'corepack', 'node-gyp', 'typescript', 'span-profiles'];

/** The names a process answers to: its script's file name and the package that script belongs to. */
export function programNames(entry: string | undefined = process.argv[1]): string[] {
  if (!entry) return [];
  const names: string[] = [];
  const base = path.basename(entry).replace(/\.(c|m)?js$/, '');
  if (base) names.push(base);
  let dir = path.dirname(path.resolve(entry));
  for (let depth = 0; depth < 8; depth++) {
    const name = packageNameIn(dir);
    if (name !== undefined) {
      names.push(name);
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return names;
}

function matches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*') + '$');
  return re.test(name);
}

/** Decides whether to start; `reason` says why not. */
export function shouldStartIn(
  names: readonly string[],
  allow: readonly string[] | undefined,
  deny: readonly string[],
): { start: boolean; reason?: string } {
  const denied = names.find((n) => deny.some((p) => matches(p, n)));
  if (denied !== undefined) return { start: false, reason: `"${denied}" is in SPAN_PROFILES_PROCESS_DENY` };
  if (allow && allow.length > 0 && !names.some((n) => allow.some((p) => matches(p, n)))) {
    return { start: false, reason: `none of ${JSON.stringify(names)} is in SPAN_PROFILES_PROCESS_ALLOW` };
  }
  return { start: true };
}
