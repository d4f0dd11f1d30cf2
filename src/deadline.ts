/** Waiting for work without waiting past a deadline: shutdown and the last profile share it. */

/**
 * Resolves when `work` settles (true) or the deadline passes (false), whichever comes first. With
 * `keepAlive` the deadline timer holds the process open until then.
 */
export function withDeadline(work: Promise<unknown>, deadline: number, keepAlive: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    if (!keepAlive) timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    work.then(done, done);
  });
}
