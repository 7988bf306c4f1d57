import type { Position } from '../../engine/position.js';
import { integers } from './redis-scripts.js';

/** A batch's outcome in a grouped append: appended at `head`, or a conflict with the log's `head`. */
export interface BatchOutcome {
  readonly conflict: boolean;
  readonly head: Position;
  readonly time: number;
}

interface Pending {
  readonly expected: string;
  readonly prefixes: readonly Buffer[];
  readonly bytes: number;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** Records and bytes one grouped script call may carry (a single larger batch still goes, alone). */
const GROUP_RECORDS = 10_000;
const GROUP_BYTES = 8 * 1024 * 1024;

/**
 * Group commit for one store handle: while one append script call is in flight, the batches appended
 * meanwhile wait and then go together in the next call, each still atomic and checked against its own
 * expected head, in the order they were appended. An idle store sends a batch at once, so grouping adds
 * no latency; a busy one makes one script call (one Redis round trip and one AOF write) for many
 * batches instead of one each.
 */
export class AppendQueue {
  readonly #pending: Pending[] = [];
  #draining = false;

  /** `run` sends the APPEND script's ARGV after the segment size (see `APPEND`). */
  constructor(private readonly run: (groups: readonly (string | Buffer)[]) => Promise<unknown>) {}

  /** Appends one batch; `expected` is its expected head or ''. Rejects with the call's error. */
  submit(expected: string, prefixes: readonly Buffer[]): Promise<BatchOutcome> {
    const bytes = prefixes.reduce((sum, p) => sum + p.length, 0);
    return new Promise((resolve, reject) => {
      this.#pending.push({ expected, prefixes, bytes, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#pending.length > 0) await this.#send(this.#take());
    } finally {
      this.#draining = false;
    }
  }

  #take(): Pending[] {
    let records = 0;
    let bytes = 0;
    let count = 0;
    for (const p of this.#pending) {
      if (count > 0 && (records + p.prefixes.length > GROUP_RECORDS || bytes + p.bytes > GROUP_BYTES)) break;
      records += p.prefixes.length;
      bytes += p.bytes;
      count++;
    }
    return this.#pending.splice(0, count);
  }

  async #send(group: readonly Pending[]): Promise<void> {
    const args: (string | Buffer)[] = [];
    for (const p of group) {
      args.push(p.expected, String(p.prefixes.length));
      for (const prefix of p.prefixes) args.push(prefix);
    }
    let reply: number[];
    try {
      reply = integers(await this.run(args));
    } catch (e) {
      for (const p of group) p.reject(e);
      return;
    }
    const [time = 0] = reply;
    group.forEach((p, i) => {
      p.resolve({ conflict: reply[2 + 2 * i] === 1, head: reply[3 + 2 * i] ?? 0, time });
    });
  }
}
