// Pyroscope unreachable (connections refused) or hanging (never answering), end to end under load:
// the app keeps serving, the queue stays capped with drops counted, warnings are rate-limited, and
// the queued profiles are delivered once Pyroscope is back. See runPyroscopeFault.
import { test } from 'node:test';
import { runPyroscopeFault } from '../helpers/reliability-harness.mjs';

test('Pyroscope refusing connections: app unaffected, queue capped, queued profiles delivered on recovery', (t) =>
  runPyroscopeFault(t, { mode: 'refuse', retryable: true, reason: /ECONNREFUSED/ }));

test('Pyroscope hanging: uploads time out, app unaffected, queue capped, queued profiles delivered on recovery', (t) =>
  runPyroscopeFault(t, { mode: 'hang', retryable: true, reason: /timed out after 1000 ms/ }));
