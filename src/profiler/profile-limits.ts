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
