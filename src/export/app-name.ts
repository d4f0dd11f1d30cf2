/**
 * The `name` query parameter of Pyroscope's /ingest: `app{key=value,...}`. Pyroscope answers 400 to a
 * name it cannot parse or validate (grafana/pyroscope `api/model/labelset`), which would lose every
 * profile, so names and tags are made valid here instead of being passed through.
 */
import { SPAN_ID_LABEL, SPAN_NAME_LABEL, TRACE_ID_LABEL } from '../profile-format';

/** Characters Pyroscope allows in a label (tag) name. */
const TAG_KEY_INVALID = /[^A-Za-z0-9_.]/gu;
/** Characters Pyroscope allows in an application (service) name: label characters plus `-` and `/`. */
const APP_NAME_INVALID = /[^A-Za-z0-9_.\-/]/gu;
/** Characters that end a tag value in the parser, so they cannot appear inside one. */
const TAG_VALUE_INVALID = /[,}]/gu;

/** Used when the configured name has no characters left (Pyroscope requires one). */
export const FALLBACK_APP_NAME = 'unknown_service';

/** Label names Pyroscope reserves: `__name__` in the tags would replace the application name. */
const RESERVED_TAG_KEYS = new Set(['__name__']);

/**
 * Makes `name` a valid Pyroscope application name: surrounding whitespace trimmed (the server trims
 * too), every character outside `[A-Za-z0-9_.-/]` replaced by `_` (`@acme/shop` -> `_acme/shop`), and
 * {@link FALLBACK_APP_NAME} if nothing is left.
 */
export function sanitizeAppName(name: string): string {
  const trimmed = name.trim();
  return trimmed === '' ? FALLBACK_APP_NAME : trimmed.replace(APP_NAME_INVALID, '_');
}

/**
 * Makes `key` a valid Pyroscope tag name: surrounding whitespace trimmed, every character outside
 * `[A-Za-z0-9_.]` replaced by `_` (`k8s-pod` -> `k8s_pod`). An empty key stays empty: callers skip it.
 */
export function sanitizeTagKey(key: string): string {
  return key.trim().replace(TAG_KEY_INVALID, '_');
}

/**
 * Makes `value` a valid Pyroscope tag value: surrounding whitespace trimmed (the server trims it
 * anyway) and `,` and `}`, which would end the value early, replaced by `_`.
 */
export function sanitizeTagValue(value: string): string {
  return value.trim().replace(TAG_VALUE_INVALID, '_');
}

/**
 * The /ingest `name` parameter: `app{k=v,...}` with the app name and every tag sanitized. Tags whose
 * key or value is empty after sanitizing, or whose key is reserved (`__name__`), are left out; when
 * two keys sanitize to the same name the later one wins, as the server's parser would do.
 */
export function formatIngestName(appName: string, tags: Readonly<Record<string, string>>): string {
  const merged = new Map<string, string>();
  for (const [rawKey, rawValue] of Object.entries(tags)) {
    const key = sanitizeTagKey(rawKey);
    const value = sanitizeTagValue(String(rawValue));
    if (key === '' || value === '' || RESERVED_TAG_KEYS.has(key)) continue;
    merged.set(key, value);
  }
  const pairs: string[] = [];
  for (const [key, value] of merged) pairs.push(`${key}=${value}`);
  return `${sanitizeAppName(appName)}{${pairs.join(',')}}`;
}

/**
 * Series label names Pyroscope or the agent set themselves. A static label with one of these names
 * would replace the application name (`service_name`, og/convert/pprof/profile.go createLabels), or,
 * being a series label, win over every sample's own value (`span_id`, `trace_id`, `span_name`,
 * `profile_id`; pprof_split.go addSampleLabelsToLabelsBuilder), breaking the link to spans.
 */
const AGENT_LABEL_NAMES = new Set(['service_name', 'pyroscope_spy', SPAN_ID_LABEL, SPAN_NAME_LABEL, TRACE_ID_LABEL, 'profile_id']);

/**
 * Most static labels: Pyroscope rejects a series with more than 30 label names
 * (`validation.max-label-names-per-series`), and each series also has __name__, __delta__,
 * pyroscope_spy, service_name, span_name, trace_id (a series label before Pyroscope 2.1.0) and
 * service_namespace (when the resource has one).
 */
export const MAX_STATIC_LABELS = 30 - 7;

/** Longest static label value, bytes (`validation.max-length-label-value`). */
const MAX_LABEL_VALUE_BYTES = 2048;

/** Static labels made valid on every Pyroscope version, and one message per change. */
export interface SanitizedLabels {
  readonly labels: Record<string, string>;
  /** Each problem found, ready to print after the variable's name. */
  readonly problems: string[];
}

/**
 * Makes static labels (`PYROSCOPE_LABELS`) what every Pyroscope reads the same way
 * (grafana/pyroscope `pkg/validation/validate.go` ValidateLabels, SanitizeLegacyLabelName): names of
 * `[A-Za-z0-9_]` not starting with a digit (1.x stores a dot as `_`, 2.x keeps it: `_` is the same
 * everywhere; before 1.15 a dot was rejected; a leading digit is rejected up to 1.21), names starting
 * with `__` dropped (the server drops them), names the agent sets dropped, the first of names that
 * collide kept (1.x rejects the whole upload otherwise), values cut to 2048 bytes, and at most
 * {@link MAX_STATIC_LABELS} labels.
 */
export function sanitizeStaticLabels(input: Readonly<Record<string, string>>): SanitizedLabels {
  const labels: Record<string, string> = {};
  const problems: string[] = [];
  const givenAs = new Map<string, string>();
  const dropped: string[] = [];
  for (const [rawKey, rawValue] of Object.entries(input)) {
    const given = rawKey.trim();
    let key = sanitizeTagKey(given).replace(/\./gu, '_');
    if (/^[0-9]/u.test(key)) key = `_${key}`;
    let value = sanitizeTagValue(String(rawValue));
    if (key === '' || value === '') continue;
    if (key.startsWith('__')) {
      problems.push(`label "${given}" starts with "__", which Pyroscope reserves and drops; left out`);
      continue;
    }
    if (AGENT_LABEL_NAMES.has(key)) {
      problems.push(
        `label "${given}" is one the agent sets itself (service_name comes from PYROSCOPE_APPLICATION_NAME; span_id, trace_id and span_name from spans); left out`,
      );
      continue;
    }
    if (key !== given) {
      problems.push(
        `label name "${given}" is not valid on every Pyroscope (letters, digits and _ only, not starting with a digit; 1.x turns dots into _); sent as "${key}"`,
      );
    }
    const first = givenAs.get(key);
    if (first !== undefined) {
      problems.push(`labels "${first}" and "${given}" are both "${key}" for Pyroscope, which rejects such uploads; kept "${first}", left out "${given}"`);
      continue;
    }
    if (Buffer.byteLength(value, 'utf8') > MAX_LABEL_VALUE_BYTES) {
      value = cutUtf8(value, MAX_LABEL_VALUE_BYTES);
      problems.push(`the value of label "${given}" is over Pyroscope's ${MAX_LABEL_VALUE_BYTES}-byte limit; cut to it`);
    }
    if (Object.keys(labels).length >= MAX_STATIC_LABELS) {
      dropped.push(given);
      continue;
    }
    givenAs.set(key, given);
    labels[key] = value;
  }
  if (dropped.length > 0) {
    problems.push(
      `has more than ${MAX_STATIC_LABELS} labels, and Pyroscope rejects a series with more than 30 label names (its own and the agent's count too); ` +
        `left out ${dropped.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  return { labels, problems };
}

/** `text` cut to at most `maxBytes` UTF-8 bytes at a character boundary. */
function cutUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}
