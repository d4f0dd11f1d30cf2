/**
 * Reads every variable of the table from an environment: one parser per type, each giving the typed
 * value, doctor's entry, and for a bad value one warning naming the variable, the value given (or
 * `<redacted>`) and the value used instead. Reads nothing but `env`; never throws.
 */
import { percentDecoded, redactSecrets, stripUrlCredentials } from '../redact';
import type { ConfigEntry } from './types';
import { formatDuration, formatSize, parseDuration, parseSize } from './units';
import { VARIABLES, type Values, type Variable, type VariableName } from './variables';

/**
 * Warnings in the order of the table: a warning a section adds later about a variable is listed right
 * after that variable's own; those about no variable in particular come last.
 */
export class Warnings {
  private readonly list: Array<{ at: number; text: string }> = [];

  add(about: VariableName | undefined, text: string): void {
    const at = about === undefined ? VARIABLES.length : VARIABLES.findIndex((v) => v.name === about);
    this.list.push({ at, text });
  }

  /** The lines, in table order (stable: lines about one variable keep the order they were added in). */
  lines(): string[] {
    return this.list
      .map((w, i) => ({ ...w, i }))
      .sort((a, b) => a.at - b.at || a.i - b.i)
      .map((w) => w.text);
  }
}

/** What the parsers need of one variable, its default resolved (inherited or computed). */
type Resolved<T extends Variable['type']> = Extract<Variable, { type: T }> & { defaultText: string };

/** The reading of one variable: the raw text, and how to warn and record. */
class Reading<T extends Variable['type']> {
  constructor(
    readonly spec: Resolved<T>,
    /** The value exactly as in the environment (untrimmed). */
    readonly given: string | undefined,
    private readonly warnings: Warnings,
    private readonly entries: ConfigEntry[],
  ) {}

  /** The raw value, or undefined when unset or empty (the OpenTelemetry spec treats empty as unset). */
  raw(): string | undefined {
    const value = this.given;
    if (value === undefined || value === '') return undefined;
    if (value.trim() === '') {
      this.warn(value, 'is blank');
      return undefined;
    }
    return value.trim();
  }

  warn(given: string, problem: string, used: string = this.spec.defaultText, secret: boolean = this.spec.secret ?? false): void {
    const shown = secret ? '<redacted>' : quote(given);
    this.warnings.add(this.name, `${this.spec.name}=${shown} ${problem}; using ${used}`);
  }

  /** A warning worded otherwise than `NAME=value problem; using default`. */
  warnLine(text: string): void {
    this.warnings.add(this.name, text);
  }

  record(value: string, isSet: boolean): void {
    const spec = this.spec;
    this.entries.push({
      name: spec.name,
      value: spec.secret && isSet ? '<redacted>' : redactSecrets(value, []),
      isSet,
      defaultValue: spec.defaultText,
      description: spec.description,
      secret: spec.secret ?? false,
    });
  }

  private get name(): VariableName {
    return this.spec.name as VariableName;
  }
}

/** One parser per type; each records the entry and returns the value (the fallback for a bad one). */
const PARSERS: { [T in Variable['type']]: (r: Reading<T>) => unknown } = {
  text(r) {
    const raw = r.raw();
    r.record(raw ?? r.spec.defaultText, raw !== undefined);
    return raw;
  },

  bool(r) {
    const raw = r.raw();
    let value = r.spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      const lower = raw.toLowerCase();
      if (lower === 'true' || lower === 'false') {
        value = lower === 'true';
        isSet = true;
      } else {
        r.warn(raw, 'is not true or false');
      }
    }
    r.record(String(value), isSet);
    return value;
  },

  int(r) {
    const { spec } = r;
    const raw = r.raw();
    let value = spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      // The untrimmed value, written exactly as its number prints: `5`, `-1`; not ` 5`, `05`, `5.0`, `1e3`.
      const parsed = parseInt(r.given!, 10);
      const exact = !Number.isNaN(parsed) && parsed.toString(10) === r.given;
      const what = spec.unit ? `a whole number of ${spec.unit}` : 'a whole number';
      if (!exact || !Number.isSafeInteger(parsed)) r.warn(raw, `is not ${what}`);
      else if (parsed < spec.min || parsed > spec.max) r.warn(raw, `is outside ${spec.min}..${spec.max}`);
      else {
        value = parsed;
        isSet = true;
      }
    }
    r.record(String(value), isSet);
    return value;
  },

  ratio(r) {
    const raw = r.raw();
    let value = r.spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      const parsed = /^[+]?(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
      if (Number.isNaN(parsed)) r.warn(raw, 'is not a number');
      else if (parsed < 0 || parsed > 1) r.warn(raw, 'is outside 0..1');
      else {
        value = parsed;
        isSet = true;
      }
    }
    r.record(String(value), isSet);
    return value;
  },

  duration(r) {
    const { spec } = r;
    const raw = r.raw();
    let value = spec.fallbackMs;
    let isSet = false;
    if (raw !== undefined) {
      const parsed = parseDuration(raw);
      if (parsed === undefined) r.warn(raw, 'is not a duration such as 500ms, 15s or 1m');
      else if (parsed < spec.minMs || parsed > spec.maxMs) {
        r.warn(raw, `is outside ${formatDuration(spec.minMs)}..${formatDuration(spec.maxMs)}`);
      } else {
        value = parsed;
        isSet = true;
      }
    }
    if (spec.cap !== undefined && value > spec.cap.ms) {
      const cap = `${spec.cap.ms / 1000}s`;
      r.warnLine(`${spec.name}=${quote(r.given ?? '')} is longer than ${cap}: ${spec.cap.reason}; using ${cap}`);
      value = spec.cap.ms;
    }
    r.record(formatDuration(value), isSet);
    return value;
  },

  size(r) {
    const { spec } = r;
    const raw = r.raw();
    let value = spec.fallbackBytes;
    let isSet = false;
    if (raw !== undefined) {
      const parsed = parseSize(raw);
      if (parsed === undefined) r.warn(raw, 'is not a size such as 256MiB or 1GiB');
      else if (parsed < spec.minBytes) r.warn(raw, `is below the minimum ${formatSize(spec.minBytes)}`);
      else {
        value = parsed;
        isSet = true;
      }
    }
    r.record(formatSize(value), isSet);
    return value;
  },

  enum(r) {
    const { spec } = r;
    const raw = r.raw();
    let value = spec.fallback;
    let isSet = false;
    if (raw !== undefined) {
      const candidate = spec.caseInsensitive ? raw.toLowerCase() : raw;
      const match = spec.values.find((v) => v === candidate);
      if (match === undefined) r.warn(raw, `is not one of ${spec.values.join(', ')}`);
      else {
        value = match;
        isSet = true;
      }
    }
    r.record(value, isSet);
    return value;
  },

  names(r) {
    const { spec } = r;
    const raw = r.raw();
    if (raw === undefined) {
      r.record(spec.defaultText, false);
      return undefined;
    }
    const known = spec.values;
    const names = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const good = names.filter((n) => known.includes(n));
    const bad = names.filter((n) => !known.includes(n));
    if (bad.length > 0) {
      r.warnLine(
        `${spec.name}=${quote(raw)} names unknown ${bad.length === 1 ? 'entry' : 'entries'} ${bad.map(quote).join(', ')}; ` +
          `using ${good.length > 0 ? good.join(',') : 'none of it'} (known: ${known.join(', ')})`,
      );
    }
    r.record(good.join(','), true);
    return good;
  },

  programs(r) {
    const { spec } = r;
    const raw = r.raw();
    if (raw === undefined) {
      r.record(spec.defaultText, false);
      return undefined;
    }
    const entries = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const good = entries.filter((e) => /^[A-Za-z0-9@/._*-]+$/.test(e));
    const bad = entries.filter((e) => !good.includes(e));
    if (bad.length > 0) {
      r.warnLine(
        `${spec.name}=${quote(raw)} has invalid ${bad.length === 1 ? 'entry' : 'entries'} ${bad.map(quote).join(', ')}; using ${good.join(',') || spec.defaultText || 'none'}`,
      );
    }
    r.record(good.join(','), good.length > 0);
    return good.length > 0 ? good : undefined;
  },

  url(r) {
    const { spec } = r;
    const raw = r.raw();
    if (raw === undefined) {
      r.record(spec.defaultText, false);
      return undefined;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = undefined;
    }
    // Never echo a URL with credentials, not even in a warning.
    const secret = (spec.secret ?? false) || /\/\/[^/]*@/.test(raw);
    if (!parsed) {
      const problem = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? 'is not a valid URL' : 'is not a URL (it needs http:// or https://)';
      r.warn(raw, problem, spec.defaultText, secret);
    } else if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      r.warn(raw, 'is not an http:// or https:// URL', spec.defaultText, secret);
      parsed = undefined;
    }
    r.record(parsed ? stripUrlCredentials(parsed) : spec.defaultText, parsed !== undefined);
    return parsed;
  },

  keyValues(r) {
    const { spec } = r;
    const raw = r.raw();
    const result: Record<string, string> = {};
    if (raw === undefined) {
      r.record(spec.defaultText, false);
      return result;
    }
    const bad: string[] = [];
    for (const part of raw.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? part.slice(0, eq).trim() : '';
      const value = eq > 0 ? part.slice(eq + 1).trim() : '';
      if (key === '' || value === '') bad.push(part.trim());
      else result[key] = value;
    }
    if (bad.length > 0) {
      const kept = Object.keys(result).length;
      r.warnLine(
        `${spec.name} has malformed ${bad.length === 1 ? 'entry' : 'entries'} ${bad.map(quote).join(', ')} (expected key=value); ` +
          `using the other ${kept} ${kept === 1 ? 'entry' : 'entries'}`,
      );
    }
    const shown = Object.entries(result)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    r.record(shown, Object.keys(result).length > 0);
    return result;
  },

  // Neither values nor malformed entries are ever echoed; the entry shows the keys.
  headers(r) {
    const { spec } = r;
    const raw = r.raw();
    if (raw === undefined) {
      r.record(spec.defaultText, false);
      return undefined;
    }
    const result: Record<string, string> = {};
    let bad = 0;
    for (const part of raw.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? percentDecoded(part.slice(0, eq).trim()) : '';
      const value = eq > 0 ? percentDecoded(part.slice(eq + 1).trim()) : '';
      if (key === '' || value === '' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) bad++;
      else result[key] = value;
    }
    const kept = Object.keys(result);
    if (bad > 0) {
      r.warnLine(
        `${spec.name}=<redacted> has ${bad} malformed ${bad === 1 ? 'entry' : 'entries'} (expected key=value,key2=value2 with percent-encoded values); ` +
          `using ${kept.length > 0 ? `the headers ${kept.join(', ')}` : 'no headers from it'}`,
      );
    }
    r.record(kept.join(','), kept.length > 0);
    return result;
  },

  json(r) {
    const { spec } = r;
    const raw = r.raw();
    const result: Record<string, string> = {};
    let isSet = false;
    if (raw !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
          if (typeof v === 'string') result[k] = v;
        }
        isSet = true;
      } else {
        r.warn(raw, 'is not a JSON object such as {"X-Header":"value"}', 'no extra headers');
      }
    }
    r.record(isSet ? Object.keys(result).join(',') : spec.defaultText, isSet);
    return result;
  },
};

/**
 * Every variable of the table read from `env`, in table order: values, doctor's entries, warnings.
 * Throws only for a table that names a later variable in `inherits` (a mistake every test run shows).
 */
export function readVariables(env: NodeJS.ProcessEnv): { values: Values; entries: ConfigEntry[]; warnings: Warnings } {
  const values: Record<string, unknown> = {};
  const entries: ConfigEntry[] = [];
  const warnings = new Warnings();
  for (const variable of VARIABLES as readonly Variable[]) {
    let resolved: Variable & { defaultText: string } = { ...variable, defaultText: variable.defaultFrom?.(values) ?? variable.default };
    if (variable.inherits !== undefined) {
      // The signal-specific variable falls back to the general one's effective value.
      const parent = entries.find((e) => e.name === variable.inherits);
      if (parent === undefined) throw new Error(`${variable.name} inherits ${variable.inherits}, which is not earlier in the table`);
      resolved = { ...resolved, defaultText: parent.value, fallback: values[variable.inherits] } as typeof resolved;
    }
    const parse = PARSERS[variable.type] as (r: Reading<Variable['type']>) => unknown;
    values[variable.name] = parse(new Reading(resolved, env[variable.name], warnings, entries));
  }
  return { values: values as Values, entries, warnings };
}

/** A value as it may appear in a warning: quoted, control characters escaped, long values cut. */
export function quote(value: string): string {
  // A URL with credentials in the wrong variable is still a secret.
  const safe = redactSecrets(value, []);
  const cut = safe.length > 80 ? safe.slice(0, 77) + '...' : safe;
  return JSON.stringify(cut);
}
