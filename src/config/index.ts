/**
 * The agent's configuration: the table of variables (./variables.ts) parsed from the environment
 * (./parse.ts), then one derivation per section (service identity, traces, what the SDK loads, profile
 * destinations, profiling, Pyroscope, the store), each returning its part of the config.
 */
import { findAppPackageName } from '../app-package';
import { DEFAULT_DENIED_PROGRAMS } from '../process-filter';
import { readVariables } from './parse';
import { profileDestinations } from './profiles';
import { profiling } from './profiling';
import { pyroscope } from './pyroscope';
import { sdkComponents } from './sdk';
import { serviceIdentity } from './service';
import { store } from './store';
import { traces } from './traces';
import type { AgentConfig, ConfigReport } from './types';

export type * from './types';
export { defaultStoreDir } from './store';
export { formatDuration, formatSize, parseDuration, parseSize } from './units';
export { OTLP_PROFILES_PATH, RESOURCE_DETECTOR_NAMES, VARIABLES, type Variable, type VariableName } from './variables';

/**
 * Reads the agent's configuration from `env` and, only when no variable names the service, the app's
 * package.json (`appPackageName`). Never throws: a bad value gets one warning naming the variable, the
 * value given (never a secret's) and the value used instead, and the default applies.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env, appPackageName: () => string | undefined = findAppPackageName): ConfigReport {
  const { values, entries, warnings } = readVariables(env);
  const service = serviceIdentity(values, appPackageName);
  const traceConfig = traces(values, warnings);
  const profiles = profileDestinations(values, warnings);
  const config: AgentConfig = {
    disabled: values.OTEL_SDK_DISABLED,
    logLevel: values.OTEL_LOG_LEVEL,
    ...service,
    traces: traceConfig,
    ...sdkComponents(values),
    profiling: profiling(values, profiles, (name) => Boolean(env[name]), warnings),
    profiles,
    pyroscope: pyroscope(values, service.serviceName, warnings),
    store: store(values, traceConfig, profiles),
    shutdownTimeoutMs: values.SPAN_PROFILES_SHUTDOWN_TIMEOUT,
    esmHook: values.SPAN_PROFILES_ESM_HOOK,
    process: { allow: values.SPAN_PROFILES_PROCESS_ALLOW, deny: values.SPAN_PROFILES_PROCESS_DENY ?? DEFAULT_DENIED_PROGRAMS },
  };
  return { config, warnings: warnings.lines(), entries };
}
