import os from 'node:os';
import { openStore, type LogStore, type RecordDraft } from '../index.js';

/** A worker process that died, as its supervisor saw it. */
export interface WorkerCrash {
  readonly workerId: string;
  readonly pid: number;
  /** How it ended: `exited with code 3`, `killed by SIGKILL`. */
  readonly detail: string;
}

/**
 * Appends `worker.left { reason: 'crashed' }` for worker processes that died, on their behalf: from that
 * record on the dead worker's claims end (live workers of its subscribers report each as a failed
 * attempt), instead of when its heartbeats are missed for its liveness TTL or its leases run out. Opens
 * the store on the first crash and keeps it until {@link close}.
 */
export class CrashReporter {
  #store: Promise<LogStore> | undefined;

  constructor(private readonly url: string) {}

  async report(crash: WorkerCrash): Promise<void> {
    this.#store ??= openStore(this.url);
    const store = await this.#store;
    const draft: RecordDraft = {
      type: 'worker.left',
      workerId: crash.workerId,
      host: os.hostname(),
      pid: crash.pid,
      queues: [],
      subscribers: [],
      reason: 'crashed',
      detail: crash.detail,
    };
    await store.append([draft], { sync: true });
  }

  async close(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    if (store) await store.then((s) => s.close()).catch(() => undefined);
  }
}
