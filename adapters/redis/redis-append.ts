import type { Position } from '../../engine/position.js';
import { packBatches, type EncodedDraft, type PackedBatch } from './redis-records.js';
import { integers } from './redis-scripts.js';

/** A batch's outcome in a grouped append: appended at `head`, or a conflict with the log's `head`. */
export interface BatchOutcome {
  readonly conflict: boolean;
  readonly head: Position;
  readonly time: number;
}

interface Pending extends PackedBatch {
  readonly bytes: number;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** Records and bytes one grouped script call may carry (a single larger batch still goes, alone). */
const GROUP_RECORDS = 10_000;
const GROUP_BYTES = 8 * 1024 * 1024;

/**
 * Script calls one store handle keeps in flight. One would queue every append behind the one before
 * for its whole round trip, so that one slow answer delays the appends after it too (a paced stream's
 * tail latency shows it: `bench:latency -- --hop`); a few in flight keep the group commit under load. Only one goes
 * until a call succeeded on the connection as it is (after `reset()`, a failure, or at the start): a
 * server that restarted answers EVALSHA with NOSCRIPT and the call is sent again as EVAL, and a call
 * pipelined behind it could land first if another client loaded the script in between.
 */
const MAX_IN_FLIGHT = 4;

/**
 * Group commit for one store handle: the batches appended during one turn of the event loop go together
 * in one script call, sent at the end of the turn (`setImmediate`); while {@link MAX_IN_FLIGHT} calls
 * are in flight, the batches appended meanwhile wait and go together in the next. Calls share one
 * connection, so Redis runs them in the order sent; each batch stays atomic and is checked against its
 * own expected head, in the order they were appended. Waiting for the end of the turn costs
 * microseconds and gathers what one turn produces (the results of handlers that finished together and
 * the claims that follow them) into one round trip and one AOF write instead of one each.
 */
export class AppendQueue {
  readonly #pending: Pending[] = [];
  readonly #calls = new Set<Promise<void>>();
  #limit = 1;
  #scheduled: NodeJS.Immediate | undefined;

  /** `run` sends the APPEND script's batches argument (see `APPEND` and `packBatches`). */
  constructor(private readonly run: (batches: Buffer) => Promise<unknown>) {}

  /** Appends one batch, at `expected` when given. Rejects with the call's error. */
  submit(expected: Position | undefined, drafts: readonly EncodedDraft[]): Promise<BatchOutcome> {
    let bytes = 0;
    for (const d of drafts) bytes += d.length;
    return new Promise((resolve, reject) => {
      this.#pending.push({ expected, drafts, bytes, resolve, reject });
      if (this.#calls.size < this.#limit) this.#scheduled ??= setImmediate(() => this.#start());
    });
  }

  /** Sends what waits now, and resolves once every batch submitted so far has its answer. */
  async flush(): Promise<void> {
    this.#start();
    while (this.#calls.size > 0) await Promise.all(this.#calls);
  }

  /** One call at a time again until one succeeds (the connection was made again). */
  reset(): void {
    this.#limit = 1;
  }

  #start(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    while (this.#pending.length > 0 && this.#calls.size < this.#limit) {
      const call: Promise<void> = this.#send(this.#take()).finally(() => {
        this.#calls.delete(call);
        this.#start(); // what waited for a free call goes now
      });
      this.#calls.add(call);
    }
  }

  #take(): Pending[] {
    let records = 0;
    let bytes = 0;
    let count = 0;
    for (const p of this.#pending) {
      if (count > 0 && (records + p.drafts.length > GROUP_RECORDS || bytes + p.bytes > GROUP_BYTES)) break;
      records += p.drafts.length;
      bytes += p.bytes;
      count++;
    }
    return this.#pending.splice(0, count);
  }

  async #send(group: readonly Pending[]): Promise<void> {
    let reply: number[];
    try {
      reply = integers(await this.run(packBatches(group)));
    } catch (e) {
      this.#limit = 1;
      for (const p of group) p.reject(e);
      return;
    }
    this.#limit = MAX_IN_FLIGHT;
    const [time = 0] = reply;
    group.forEach((p, i) => {
      p.resolve({ conflict: reply[2 + 2 * i] === 1, head: reply[3 + 2 * i] ?? 0, time });
    });
  }
}
