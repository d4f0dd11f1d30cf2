/** Pyroscope: the server, its credentials and tenant, the application name and labels, upload limits. */
import { sanitizeStaticLabels } from '../export/app-name';
import { credentialsOf, redactSecrets, stripUrlCredentials } from '../redact';
import type { Warnings } from './parse';
import type { AgentConfig } from './types';
import type { Values } from './variables';

/** The Pyroscope part of the config; labels Pyroscope would refuse are renamed or left out, one warning each. */
export function pyroscope(values: Values, serviceName: string, warnings: Warnings): AgentConfig['pyroscope'] {
  const serverUrl = values.PYROSCOPE_SERVER_ADDRESS;
  let basicAuth: AgentConfig['pyroscope']['basicAuth'];
  let serverAddress: string | undefined;
  if (serverUrl) {
    // Credentials in the URL become basic auth, so the address itself is safe to print.
    basicAuth = credentialsOf(serverUrl);
    serverAddress = stripUrlCredentials(serverUrl);
  }
  const user = values.PYROSCOPE_BASIC_AUTH_USER;
  const password = values.PYROSCOPE_BASIC_AUTH_PASSWORD;
  if (user !== undefined || password !== undefined) basicAuth = { user: user ?? '', password: password ?? '' };

  const { labels, problems } = sanitizeStaticLabels(values.PYROSCOPE_LABELS);
  for (const problem of problems) warnings.add('PYROSCOPE_LABELS', `PYROSCOPE_LABELS: ${redactSecrets(problem, [])}`);

  const traceIdLabel = values.SPAN_PROFILES_TRACE_ID_LABEL;
  return {
    serverAddress,
    applicationName: values.PYROSCOPE_APPLICATION_NAME ?? serviceName,
    labels,
    basicAuth,
    authToken: values.PYROSCOPE_AUTH_TOKEN,
    tenantId: values.PYROSCOPE_TENANT_ID,
    headers: values.PYROSCOPE_HTTP_HEADERS,
    timeoutMs: values.SPAN_PROFILES_UPLOAD_TIMEOUT,
    queueSize: values.SPAN_PROFILES_UPLOAD_QUEUE,
    traceId: traceIdLabel === 'true' ? 'on' : traceIdLabel === 'false' ? 'off' : 'auto',
    maxSpanNames: values.SPAN_PROFILES_MAX_SPAN_NAMES,
    maxUploadBytes: values.SPAN_PROFILES_MAX_UPLOAD_SIZE,
  };
}
