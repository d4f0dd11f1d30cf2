/**
 * The `name` query parameter of Pyroscope's /ingest: `app{key=value,...}`. Pyroscope answers 400 to a
 * name it cannot parse or validate (grafana/pyroscope `api/model/labelset`), which would lose every
 * profile, so names and tags are made valid here instead of being passed through.
 */

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
