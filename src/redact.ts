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

/**
 * Removes every occurrence of the given secret values from a message (an error text from a library may
 * quote a header or a URL with credentials).
 */
export function redactSecrets(message: string, secrets: readonly (string | undefined)[]): string {
  let result = message.replace(/\/\/[^/\s:@]*:[^/\s@]*@/g, '//<redacted>@');
  for (const secret of secrets) {
    if (secret && secret.length >= 4) result = result.split(secret).join('<redacted>');
  }
  return result;
}
