import type { Position } from '../../engine/position.js';

/** What one statement of appends returns: the first position of the group and its log time. */
export interface Placed {
  readonly first: Position;
  readonly time: number;
  /** The rows' `synced` column: true when any batch of the statement waits for the WAL flush. */
  readonly synced?: boolean;
}

/**
 * A statement that appended nothing: the log's row refused it (an expected head that differed, or not
 * the log the handle knows); `least` is the least head it accepted.
 */
export interface Refused {
  readonly least: Position;
}

/**
 * Runs one append statement: the records of several batches, `more` false at each batch's end;
 * `synced` when any of them will wait for the WAL flush.
 */
export type RunAppend = (
  bodies: Buffer[],
  more: boolean[],
  expected: Position | undefined,
  synced: boolean,
) => Promise<Placed | Refused>;

interface Pending {
  readonly bodies: Buffer[];
  readonly expected: Position | undefined;
  readonly synced: boolean;
  resolve(placed: Placed | Refused): void;
  reject(e: unknown): void;
}

/** Records per statement at most: bigger groups wait for the next statement. */
const MAX_GROUP_RECORDS = 10_000;

/**
 * Group commit for one store handle: one append statement in flight at a time; the batches appended
 * while it runs go together in the next one (each keeps its own `more` boundary, all share its log time
 * and its transaction), so a handle's appends land in the order they were made. Every statement holds
 * the log's head row until its commit: fewer, larger statements are what lets appenders share it. A
 * batch with an expected head goes alone, its check its own. Resolves each batch with its own first
 * position, or with the refusal when the log's row refused the statement. (Waiting for the WAL flush
 * is the caller's, after the statement: see `Flusher`.)
 */
export class AppendGroups {
  readonly #queue: Pending[] = [];
  #running: Promise<void> | undefined;

  constructor(private readonly run: RunAppend) {}

  submit(bodies: Buffer[], expected: Position | undefined, synced = true): Promise<Placed | Refused> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ bodies, expected, synced, resolve, reject });
      this.#kick();
    });
  }

  /** Starts the loop unless it runs; a batch queued as it was ending starts it again. */
  #kick(): void {
    if (this.#running !== undefined || this.#queue.length === 0) return;
    this.#running = this.#next().finally(() => {
      this.#running = undefined;
      this.#kick();
    });
  }

  /** Resolves once every batch submitted so far has its answer (before the store's pools close). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #next(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#take();
      const bodies = group.flatMap((p) => p.bodies);
      const more = group.flatMap((p) => p.bodies.map((_, i) => i < p.bodies.length - 1));
      try {
        const synced = group.some((p) => p.synced);
        const placed = await this.run(bodies, more, group[0]?.expected, synced);
        if (!('first' in placed)) {
          for (const p of group) p.resolve(placed);
          continue;
        }
        let first = placed.first;
        for (const p of group) {
          p.resolve({ first, time: placed.time, synced });
          first += p.bodies.length;
        }
      } catch (e) {
        for (const p of group) p.reject(e);
      }
    }
  }

  /** The next group: one batch with an expected head, or the batches without one up to the next such. */
  #take(): Pending[] {
    const head = this.#queue[0];
    if (head?.expected !== undefined) return this.#queue.splice(0, 1);
    let n = 0;
    let records = 0;
    for (const p of this.#queue) {
      if (p.expected !== undefined || (n > 0 && records + p.bodies.length > MAX_GROUP_RECORDS)) break;
      n++;
      records += p.bodies.length;
    }
    return this.#queue.splice(0, n);
  }
}
