/** Keeping secrets out of what the agent prints. */

/** The URL without user, password, query or fragment: safe to print. */
export function stripUrlCredentials(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    return '<invalid URL>';
  }
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return parsed.href;
}

/** Secrets shorter than this are not cut out of messages: they would mangle ordinary words. */
const MIN_SECRET_LENGTH = 3;

/**
 * Removes every occurrence of the given secret values from a message (an error text from a library may
 * quote a header or a URL with credentials), and any `//user:password@` or `//token@` in it.
 */
export function redactSecrets(message: string, secrets: readonly (string | undefined)[]): string {
  let result = message.replace(/\/\/[^/\s@]*@/g, '//<redacted>@');
  for (const secret of secrets) {
    if (secret && secret.length >= MIN_SECRET_LENGTH) result = result.split(secret).join('<redacted>');
  }
  return result;
}

/** A percent-encoded value decoded; kept as written when its escapes are malformed (never throws). */
export function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The user and password written in a URL, decoded, or undefined when it has none. */
export function credentialsOf(url: URL): { user: string; password: string } | undefined {
  if (!url.username && !url.password) return undefined;
  return { user: percentDecoded(url.username), password: percentDecoded(url.password) };
}
