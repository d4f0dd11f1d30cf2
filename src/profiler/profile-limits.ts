/**
 * The limits Grafana Pyroscope enforces on one ingested profile (`pkg/validation/limits.go` defaults).
 * A profile over any of them is rejected whole, so the profile builder never produces one.
 */

/** Per-profile limits a destination enforces. */
export interface ProfileLimits {
  /** Most samples one profile may hold (`validation.max-profile-stacktrace-samples`). */
  readonly maxSamples: number;
  /** Largest uncompressed pprof, bytes (`validation.max-profile-size-bytes`). */
  readonly maxBytes: number;
  /** Most labels one sample may carry (`validation.max-profile-stacktrace-sample-labels`). */
  readonly maxLabelsPerSample: number;
}

/** Pyroscope's defaults, which Grafana Cloud uses too. */
export const PYROSCOPE_PROFILE_LIMITS: ProfileLimits = Object.freeze({
  maxSamples: 16_000,
  maxBytes: 4 * 1024 * 1024,
  maxLabelsPerSample: 100,
});

/**
 * The distributor's per-tenant ingestion burst (`distributor.ingestion-burst-size-mb`, default 2 MiB,
 * `pkg/validation/limits.go`). Its rate limiter (`pkg/distributor/distributor.go`, `rateLimit`) calls
 * `AllowN(now, tenant, series label bytes + uncompressed profile bytes)`: a single upload over the burst
 * is answered 429 however often it is retried, so an upload must stay under it, not only under
 * {@link ProfileLimits.maxBytes}.
 */
export const PYROSCOPE_INGEST_BURST_BYTES = 2 * 1024 * 1024;

/** The distributor's per-tenant ingestion rate (`distributor.ingestion-rate-limit-mb`, default 4 MiB/s). */
export const PYROSCOPE_INGEST_RATE_BYTES_PER_SECOND = 4 * 1024 * 1024;
