import { LogDivergedError } from './errors.js';
import type { Position } from './position.js';

/**
 * What makes a log this log: a random id made when it is created, and an epoch raised whenever its
 * history is rewritten on purpose (a repair that cuts records already written). A log lost and created
 * again gets a new id; a log restored from a backup keeps its id but goes back in positions, which
 * {@link Continuity} catches.
 */
export interface LogIdentity {
  readonly id: string;
  readonly epoch: number;
}

/** `id 3f2a… epoch 1`, for messages. */
export function formatIdentity(identity: LogIdentity | undefined): string {
  return identity === undefined
    ? 'no identity (the log is gone)'
    : `id ${identity.id} epoch ${identity.epoch}`;
}

/**
 * What one store handle has seen of its log, and the checks that the log is still that one: the same
 * identity, a head never below a position already seen (appended or delivered). Each store calls the
 * checks where it meets its log (an append's turn, a follower's reconnect or idle wait, a read's start)
 * and throws what they throw. No I/O here: the stores fetch what is checked.
 */
export class Continuity {
  #seen: Position = 0;
  #diverged: LogDivergedError | undefined;

  constructor(
    /** The log, as messages name it (URL or directory). */
    readonly log: string,
    readonly identity: LogIdentity,
  ) {}

  /** Every position below this one was appended or delivered through this handle. */
  get seen(): Position {
    return this.#seen;
  }

  /** Notes that every position below `head` was seen. */
  saw(head: Position): void {
    if (head > this.#seen) this.#seen = head;
  }

  /** The divergence found, if any: once found it stays (a log that went back may grow past it again). */
  get diverged(): LogDivergedError | undefined {
    return this.#diverged;
  }

  /** @throws LogDivergedError when a divergence was found before. */
  checkNotDiverged(): void {
    if (this.#diverged !== undefined) throw this.#diverged;
  }

  /** @throws LogDivergedError unless `found` is this log's identity. */
  checkIdentity(found: LogIdentity | undefined): void {
    this.checkNotDiverged();
    if (found?.id !== this.identity.id || found.epoch !== this.identity.epoch) {
      this.fail(formatIdentity(this.identity), formatIdentity(found));
    }
  }

  /**
   * @param seen what had been seen when `head` was asked for ({@link seen} then): a head read from
   *   the backend may be older than what a follower of the same handle delivered meanwhile.
   * @throws LogDivergedError when `head` is below a position already seen (the log went back).
   */
  checkHead(head: Position, seen: Position = this.#seen): void {
    this.checkNotDiverged();
    if (head < seen) {
      this.fail(`a head of at least ${seen} (positions up to ${seen - 1} were seen)`, `a head of ${head}`);
    }
  }

  /** @throws LogDivergedError when the record at `position`, already delivered, is not the one delivered. */
  checkRecord(position: Position, same: boolean, found = 'another record'): void {
    this.checkNotDiverged();
    if (!same) this.fail(`the record delivered at position ${position}`, found);
  }

  /** Records a divergence found by a check of the store's own, and throws it. */
  fail(expected: string, found: string): never {
    this.#diverged ??= new LogDivergedError(this.log, expected, found);
    throw this.#diverged;
  }
}
