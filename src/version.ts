/** The agent's own version, read from its package.json once. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_DIR } from './package-layout';

function readVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const AGENT_VERSION: string = readVersion();
