/** Process-wide SIGINT/SIGTERM handling shared by every manager of the process. */
const stoppers = new Set<() => Promise<void>>();
let signalled = 0;

function onSignal(signal: NodeJS.Signals): void {
  signalled++;
  if (signalled > 1) process.exit(130); // a second signal forces
  void Promise.allSettled([...stoppers].map((stop) => stop())).then(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // With our handlers gone, re-raising gives the default behaviour: the process ends by the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** Runs `stop` (drain, release, leave) on SIGINT/SIGTERM; returns the uninstaller. */
export function installSignalHandlers(stop: () => Promise<void>): () => void {
  if (stoppers.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  stoppers.add(stop);
  return () => {
    stoppers.delete(stop);
    if (stoppers.size === 0) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}
