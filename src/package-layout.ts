/**
 * Where the agent's files are. This module sits at the root of dist/, and so does the agent bundle that
 * contains it (dist/agent-bundle.js): `__dirname` is dist/ in both, whichever of them runs. Code in a
 * subdirectory of src/ takes its paths from here, never from its own `__dirname`, which would be wrong
 * once bundled.
 */
import * as path from 'node:path';

/** dist/: the agent's compiled code, the bundle, and the vendored OpenTelemetry packages. */
export const DIST_DIR: string = __dirname;

/** The package's root (package.json, bin/). */
export const PACKAGE_DIR: string = path.dirname(__dirname);

/** Third-party code bundled by the build (see vendored-opentelemetry.ts): in dist/, but not the agent's. */
export const VENDOR_DIR: string = path.join(__dirname, 'vendor');

const distPrefix = DIST_DIR + path.sep;
const vendorPrefix = VENDOR_DIR + path.sep;

/**
 * Whether `file` (a path as V8 reports it) is the agent's own compiled code: under dist/, but not the
 * OpenTelemetry packages vendored into dist/vendor/, which run inside the app's requests like any library.
 */
export function isAgentFile(file: string): boolean {
  return file.startsWith(distPrefix) && !file.startsWith(vendorPrefix);
}
