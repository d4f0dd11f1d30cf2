// Pyroscope answering errors, end to end under load: 5xx is retried within the queue cap and the
// queued profiles are delivered on recovery; 400 and 413 are rejected for good, counted, not
// retried. In every case the app keeps serving and warnings are rate-limited. See runPyroscopeFault.
import { test } from 'node:test';
import { runPyroscopeFault } from '../helpers/reliability-harness.mjs';

test('Pyroscope answering 500: retried within the cap, queued profiles delivered on recovery', (t) =>
  runPyroscopeFault(t, { mode: 500, retryable: true, reason: /HTTP 500/ }));

test('Pyroscope answering 400: profiles rejected and counted, not retried, app unaffected', (t) =>
  runPyroscopeFault(t, { mode: 400, retryable: false, reason: /rejected, not retried: HTTP 400/ }));

test('Pyroscope answering 413: profiles rejected and counted, not retried, app unaffected', (t) =>
  runPyroscopeFault(t, { mode: 413, retryable: false, reason: /rejected, not retried: HTTP 413/ }));
