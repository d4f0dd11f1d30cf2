/**
 * Finds the `name` in the app's package.json: the service name when none is configured. Looks beside
 * the entry script first (what `node app.js` runs), then the working directory, walking up to the root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The `name` in `dir`/package.json, or undefined (no file, not JSON, no name). */
export function packageNameIn(dir: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    if (parsed && typeof parsed === 'object' && 'name' in parsed) {
      const name = (parsed as { name: unknown }).name;
      if (typeof name === 'string' && name.trim() !== '') return name.trim();
    }
  } catch {
    // No package.json here, or not JSON: keep walking.
  }
  return undefined;
}

function walkUp(start: string): string | undefined {
  let dir = start;
  for (;;) {
    // Our own package (the agent installed in the app) is not the app.
    if (path.basename(dir) !== 'node_modules') {
      const name = packageNameIn(dir);
      if (name !== undefined && name !== '@acme/span-profiles') return name;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The app's package name, or undefined. Never throws. */
export function findAppPackageName(entry: string | undefined = process.argv[1], cwd: string = process.cwd()): string | undefined {
  try {
    if (entry && path.isAbsolute(entry) && !entry.includes(`${path.sep}node_modules${path.sep}`)) {
      const fromEntry = walkUp(path.dirname(entry));
      if (fromEntry !== undefined) return fromEntry;
    }
    return walkUp(cwd);
  } catch {
    return undefined;
  }
}
