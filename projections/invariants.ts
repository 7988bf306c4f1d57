import type { Position } from '../engine/position.js';
import {
  isKnownRecord,
  resultRef,
  unbatched,
  type KnownRecord,
  type RecordOf,
  type StoredRecord,
} from '../engine/records.js';
import { boundAt, type DispatchState } from './dispatch/index.js';

/** A broken invariant, at a position of the log. */
export interface Violation {
  readonly kind:
    'double-claim' | 'result-without-claim' | 'fenced-result-counted' | 'valid-result-fenced' | 'order';
  readonly position: Position;
  /** Other positions involved (the earlier live claim, the claim the result answers). */
  readonly related: readonly Position[];
  readonly message: string;
}

interface Lease {
  readonly claim: Position;
  readonly worker: string;
  readonly attempt: number;
  until: number;
}

type Counts = { done: number; failed: number; dead: number } | undefined;

/** The checker's model of a worker: alive until, left, and the beat that brought it back after a death. */
interface Life {
  until: number;
  left: boolean;
  revivedAt: Position;
}

/**
 * Checks the log's dispatch invariants while the claims fold runs, against its own simple model of
 * leases: at most one live claim per event × subscriber at any point; every accepted result comes from
 * the claim that holds the lease, its worker alive, or is the first report of that worker's death; a
 * fenced result changes no count. Call {@link before} and
 * {@link after} around `dispatchFold.evolve` for each record, in log order.
 */
export class InvariantChecker {
  readonly violations: Violation[] = [];
  claims = 0;
  results = 0;
  readonly #leases = new Map<string, Lease>();
  readonly #workers = new Map<string, Life>();
  #counts: Counts;
  #expected: Position | undefined;
  #time = 0;

  constructor(private readonly limit = 100) {}

  /** Before the fold takes `r`: order and time checks, and the counts a result may change. */
  before(r: StoredRecord, claims: DispatchState): void {
    if (this.#expected !== undefined && r.position !== this.#expected) {
      this.#add('order', r.position, [], `expected position ${this.#expected}, found ${r.position}`);
    }
    if (r.time < this.#time)
      this.#add('order', r.position, [], `log time went back from ${this.#time} to ${r.time}`);
    this.#expected = r.position + 1;
    this.#time = Math.max(this.#time, r.time);
    this.#counts = undefined;
    if (isKnownRecord(r) && (r.type === 'result.recorded' || r.type === 'results.recorded')) {
      const c = claims.subscribers.get(r.subscriberId)?.counts;
      if (c) this.#counts = { done: c.done, failed: c.failed, dead: c.dead };
    }
  }

  /**
   * After the fold took `r`: judge what it decided, item by item for a batch record. The counts are
   * compared once per record: done + failed may grow by the accepted results only.
   */
  after(record: StoredRecord, claims: DispatchState): void {
    if (!isKnownRecord(record)) return;
    if (record.type === 'event.published') return this.#bound(record, claims);
    if (record.type.startsWith('worker.')) return this.#life(record);
    let accepted = 0;
    const fenced: string[] = [];
    for (const r of unbatched(record) as KnownRecord[]) {
      const verdict = this.#judge(r, claims);
      if (verdict === 'accepted') accepted++;
      else if (verdict !== undefined) fenced.push(verdict.fenced);
    }
    const before = this.#counts;
    const sub = 'subscriberId' in record ? claims.subscribers.get(record.subscriberId) : undefined;
    if (before === undefined || sub === undefined || fenced.length === 0) return;
    const grew = sub.counts.done - before.done + (sub.counts.failed - before.failed);
    if (grew > accepted) {
      this.#add(
        'fenced-result-counted',
        record.position,
        [],
        `fenced result of ${fenced.join(', ')} changed the subscriber's counts`,
      );
    }
  }

  /**
   * A new event the fold bound to a worker's reservation (`claim.reserved`): a claim whose position is
   * the event's own. Nothing can hold a lease on an event that was just published.
   */
  #bound(r: RecordOf<'event.published'>, claims: DispatchState): void {
    for (const { sub, item, workerId } of boundAt(claims, r)) {
      this.claims++;
      this.#leases.set(`${sub.id}\u0000${r.position}`, {
        claim: r.position,
        worker: workerId,
        attempt: item.attempt,
        until: item.leaseUntil,
      });
    }
  }

  /** A worker's beat or leave: when its claims end (dead: left, or no beat for its TTL). */
  #life(r: KnownRecord): void {
    if (r.type !== 'worker.joined' && r.type !== 'worker.heartbeat' && r.type !== 'worker.left') return;
    const life = this.#workers.get(r.workerId);
    if (r.type === 'worker.left') {
      if (life) life.left = true;
      else this.#workers.set(r.workerId, { until: r.time, left: true, revivedAt: -1 });
    } else if (!life) {
      this.#workers.set(r.workerId, { until: r.time + r.ttlMs, left: false, revivedAt: -1 });
    } else {
      if (life.left || life.until <= r.time) life.revivedAt = r.position;
      life.left = false;
      life.until = Math.max(life.until, r.time + r.ttlMs);
    }
  }

  /** True when the lease's worker died since it claimed (unknown workers never die). */
  #dead(lease: Lease, time: number): boolean {
    const life = this.#workers.get(lease.worker);
    return life !== undefined && (life.left || life.until <= time || lease.claim < life.revivedAt);
  }

  /** One claim or result: `accepted` for a result that counts, what was fenced for a fenced one. */
  #judge(r: KnownRecord, claims: DispatchState): 'accepted' | { fenced: string } | undefined {
    if (
      r.type !== 'claim.acquired' &&
      r.type !== 'claim.extended' &&
      r.type !== 'claim.released' &&
      r.type !== 'result.recorded'
    )
      return undefined;
    const sub = claims.subscribers.get(r.subscriberId);
    if (!sub || sub.deleted || sub.reg.delivery !== 'competing') return undefined;
    const key = `${r.subscriberId}\u0000${r.eventPosition}`;
    const lease = this.#leases.get(key);
    const live = lease !== undefined && lease.until > r.time;
    const mine = lease !== undefined && lease.worker === r.workerId && lease.attempt === r.attempt;
    const dead = lease !== undefined && this.#dead(lease, r.time);
    const reported = r.type === 'result.recorded' && r.reportedBy !== undefined;
    // A report of a worker's death holds the claim when its worker is dead; the worker itself, alive.
    const holds =
      lease !== undefined && (reported ? mine && dead && r.status === 'failed' : live && mine && !dead);
    const where = `event ${r.eventPosition} × ${r.subscriberId}`;
    switch (r.type) {
      case 'claim.acquired': {
        this.claims++;
        if (sub.items.get(r.eventPosition)?.claimPosition !== r.position) return; // lost the race: fine
        if (live) {
          this.#add(
            'double-claim',
            r.position,
            [lease.claim],
            `two live claims for ${where}: position ${lease.claim} (worker ${lease.worker}) and ${r.position} (worker ${r.workerId})`,
          );
        }
        this.#leases.set(key, {
          claim: r.position,
          worker: r.workerId,
          attempt: r.attempt,
          until: r.time + r.leaseMs,
        });
        return;
      }
      case 'claim.extended':
        if (holds) lease.until = Math.max(lease.until, r.time + r.leaseMs);
        return;
      case 'claim.released':
        if (holds) this.#leases.delete(key);
        return;
      case 'result.recorded': {
        if (r.status === 'skipped') return undefined;
        this.results++;
        const accepted = !claims.rejected.has(resultRef(r));
        if (accepted && !holds) {
          this.#add(
            'result-without-claim',
            r.position,
            lease ? [lease.claim] : [],
            `result of ${where} by worker ${r.workerId} attempt ${r.attempt} was accepted without a live winning claim`,
          );
        }
        if (!accepted && holds) {
          this.#add(
            'valid-result-fenced',
            r.position,
            [lease.claim],
            `result of ${where} by worker ${r.workerId} was fenced although its claim at position ${lease.claim} held the lease`,
          );
        }
        if (!accepted) return { fenced: `${where} by worker ${r.workerId}` };
        this.#leases.delete(key);
        return 'accepted';
      }
    }
  }

  #add(kind: Violation['kind'], position: Position, related: Position[], message: string): void {
    if (this.violations.length < this.limit) this.violations.push({ kind, position, related, message });
  }
}
