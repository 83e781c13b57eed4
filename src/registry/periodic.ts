// A background pass repeated every interval: never two at once in one process,
// the next one scheduled when the last ends, and stop() waits for the one running.
// The pass reports its own failures; it must not reject.
export interface Periodic {
  /** Runs a pass now, or joins the one already running. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

export function runEvery(intervalMs: number, pass: () => Promise<void>): Periodic {
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const runOnce = () => {
    running ??= pass()
      .catch(() => undefined)
      .finally(() => {
        running = null;
      });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void runOnce().finally(schedule), intervalMs);
    timer.unref();
  };
  schedule();
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
