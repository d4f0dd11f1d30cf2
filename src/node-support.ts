/**
 * Which Node.js versions the agent runs on. OpenTelemetry JS SDK 3 requires 22.15 or later; on anything
 * older the agent stays out of the way. Written in plain syntax so it parses on any old Node.
 */

/** The oldest supported version, as [major, minor]. */
export const MINIMUM_NODE: readonly [number, number] = [22, 15];

export interface NodeSupport {
  supported: boolean;
  /** Why not, in one line, when not supported. */
  message?: string;
}

/** Decides from a version string such as `22.15.0` (no leading v). */
export function checkNodeSupport(version: string = process.versions.node): NodeSupport {
  const match = /^(\d+)\.(\d+)\./.exec(version + '.');
  if (!match) {
    return { supported: false, message: `cannot read the Node.js version "${version}"` };
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const [minMajor, minMinor] = MINIMUM_NODE;
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return { supported: true };
  return {
    supported: false,
    message:
      `Node.js ${version} is not supported (needs ${minMajor}.${minMinor} or later); ` +
      'the app runs without tracing or profiling',
  };
}
