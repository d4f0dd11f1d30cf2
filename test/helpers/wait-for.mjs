// Awaiting conditions instead of sleeping: the receivers notify on every new record, and
// `waitUntil` polls for things nothing notifies about (files appearing in a directory).

/**
 * Resolves when `evaluate()` returns something truthy, re-evaluating each time `emitter`
 * emits `eventName`. Rejects after `timeoutMs` with `describe()` in the message.
 * Resolves with the predicate's value when it is an object (a span, an array), else `fallback()`.
 */
export function waitForEvent(emitter, eventName, evaluate, { timeoutMs, what, describe, fallback }) {
  return new Promise((resolve, reject) => {
    let timer;
    const check = () => {
      let result;
      try {
        result = evaluate();
      } catch (err) {
        finish();
        reject(err);
        return;
      }
      if (!result) return;
      finish();
      resolve(typeof result === 'object' ? result : fallback());
    };
    const finish = () => {
      clearTimeout(timer);
      emitter.off(eventName, check);
    };
    emitter.on(eventName, check);
    timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${describe()}`));
    }, timeoutMs);
    check();
  });
}

/**
 * Polls `condition` (sync or async) every `intervalMs` until it returns something truthy,
 * and resolves with that value. Rejects after `timeoutMs`, naming `what`.
 */
export async function waitUntil(condition, { timeoutMs = 15000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Whether the local store now holds every CPU cut that can have samples of a load that ended at `loadEndMs`
 * (ms), from `latestCutEndMs`, the end of the latest cut stored (undefined: none yet). A cut reaching past the
 * load's end says so. When none does, the cut after the load's last sample held no work of the app, and the
 * store writes no file for such a cut; two upload intervals after the load it has been taken for sure. (That
 * happens when a cut falls between the load's last sample and the test noting the time: the process's first
 * cut, which comes once the app has used 0.5 s of CPU, can.)
 */
export function storeHoldsLoad(latestCutEndMs, loadEndMs, uploadIntervalMs) {
  if (latestCutEndMs === undefined) return false;
  return latestCutEndMs >= loadEndMs || Date.now() >= loadEndMs + 2 * uploadIntervalMs;
}
