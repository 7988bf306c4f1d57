import {
  deathOf,
  workerDead,
  type QueueState,
  type SubscriberState,
} from '../../projections/dispatch/index.js';
import { liveHosts } from '../../projections/workers.js';
import type { Position } from '../../engine/position.js';
import type { ClaimItem, RecordDraft } from '../../engine/records.js';
import type { Attempts } from './attempts.js';
import { scanCompeting, type Candidate } from './competing-scan.js';
import type { DispatchScope, EventRecord } from './context.js';
import { deathReportDrafts, type DeathReport } from './death-reports.js';
import { claimDrafts, resultDrafts, skippedItem, type ResultItem } from './drafts.js';
import type { ReservationDraft, Reservations } from './reservations.js';
import type { ResultBatch } from './result-batch.js';

/**
 * The claim loop: candidates from a scan are read, filtered and claimed in one append (with the
 * lingering results and the reservation's top-up riding along); the fold then says which claims won.
 *
 * Per event: CANDIDATE (picked by a scan, {@link mark}) → APPENDING (the claim's append in flight) →
 * APPENDED (waiting for the fold) → HELD (the claim won: attempts.ts) or LOST (another worker's claim
 * came first) through {@link confirm}. A candidate the filter does not take is SKIPPED (a result, no
 * claim); a broadcast candidate starts at once (no claim). A failed step drops its APPENDING claims.
 * Invariant: an event is pending here at most once, and never while it is held or running.
 */
export class ClaimLoop {
  /** Events being claimed: event → claim position (-1 while the append is in flight). */
  readonly #pending = new Map<Position, Position>();
  /** The records of APPENDED claims, for the attempt once the claim won. */
  readonly #records = new Map<Position, EventRecord>();

  constructor(
    private readonly scope: DispatchScope,
    private readonly attempts: Attempts,
    private readonly reservations: Reservations,
    private readonly results: ResultBatch,
  ) {}

  /** Events being claimed. */
  get size(): number {
    return this.#pending.size;
  }

  has(p: Position): boolean {
    return this.#pending.has(p);
  }

  /** The positions of the claims appended and not yet confirmed. */
  appended(): Position[] {
    return [...this.#pending.values()].filter((cp) => cp >= 0);
  }

  /**
   * Claimable events of a competing subscriber (see competing-scan.ts): spread over the live workers
   * running the subscriber, this one included.
   */
  scan(
    sub: SubscriberState,
    q: QueueState,
    free: number,
    now: number,
  ): { candidates: Candidate[]; wake: number } {
    const { ctx, spec } = this.scope;
    const { dispatch } = ctx.views;
    // Taken as dead (a heartbeat missed for the TTL, or a worker.left for this worker): claims now would
    // end at once. The next heartbeat brings this worker back, and its fold wakes it.
    if (workerDead(dispatch, ctx.workerId, Math.max(now, dispatch.time)))
      return { candidates: [], wake: Infinity };
    const liveWorkers = liveHosts(ctx.views.workers, spec.subscriberId, now);
    if (!liveWorkers.includes(ctx.workerId)) liveWorkers.push(ctx.workerId);
    liveWorkers.sort();
    return scanCompeting({
      sub,
      q,
      free,
      now,
      liveWorkers,
      me: ctx.workerId,
      graceMs: ctx.spreadGraceMs,
      ending: this.scope.endsAt(q),
      busy: (p) => this.#pending.has(p) || this.attempts.isRunning(p),
      // Judged at the later of this clock and the log's: the report's own log time is at least that.
      deathOf: (item) => deathOf(dispatch, item, Math.max(now, dispatch.time)),
    });
  }

  /** → CANDIDATE. */
  mark(candidates: readonly Candidate[]): void {
    for (const c of candidates) {
      if (this.#pending.has(c.position))
        throw new Error(`dispatch: event ${c.position} is already being claimed`);
      this.#pending.set(c.position, -1);
    }
  }

  /** A failed step: its claims whose append did not go out are given up. */
  dropInFlight(): void {
    for (const [p, cp] of this.#pending) if (cp < 0) this.#pending.delete(p);
  }

  /** CANDIDATE → APPENDING → APPENDED (or SKIPPED, or started for broadcast). */
  async claim(candidates: readonly Candidate[], reservation: ReservationDraft | undefined): Promise<void> {
    const { ctx, spec, source } = this.scope;
    const records =
      candidates.length === 0
        ? new Map<Position, EventRecord>()
        : await ctx.events(
            spec.queue,
            candidates.map((c) => c.position),
          );
    const claimed: EventRecord[] = [];
    const items: ClaimItem[] = [];
    const skips: ResultItem[] = [];
    const reports: DeathReport[] = [];
    const broadcast = spec.options.delivery === 'broadcast';
    for (const { position, attempt, died } of candidates) {
      const e = records.get(position);
      if (!e) continue;
      if (died) {
        reports.push({ record: e, attempt, died });
      } else if (!spec.matcher(e)) {
        skips.push(skippedItem(e.eventId, position, 0));
        this.#pending.delete(position);
      } else if (broadcast) {
        this.#pending.delete(position);
        this.attempts.startNow(e, attempt);
      } else {
        items.push({ eventId: e.eventId, eventPosition: position, attempt });
        claimed.push(e);
      }
    }
    // One record for all the claims (each process folds it once), the filter's skips and the lingering
    // results after it.
    const drafts: RecordDraft[] = [];
    claimDrafts(source, items, ctx.leaseMs, drafts);
    const riding = this.results.take();
    resultDrafts(source, skips, drafts);
    resultDrafts(source, riding, drafts);
    deathReportDrafts(source, spec.options, reports, drafts);
    // (Stopping began while the events were read: no reservation may go out after its cancel.)
    if (reservation && this.scope.stopping) this.reservations.drop(reservation);
    const sent = this.scope.stopping ? undefined : reservation;
    if (drafts.length === 0 && !sent) return;
    let positions: readonly Position[];
    try {
      positions = await this.reservations.append(drafts, sent);
    } catch (e) {
      // The results that rode along linger again for the next append; the claims are given up.
      this.results.putBack(riding);
      throw e;
    }
    const claimPosition = positions[0] as Position;
    for (const e of claimed) {
      this.#pending.set(e.position, claimPosition);
      this.#records.set(e.position, e);
    }
    // Reported: pending (not reported again) until the fold has the report, then claimable as retried.
    const last = positions[positions.length - 1] as Position;
    for (const r of reports) this.#pending.set(r.record.position, last);
    const sub = ctx.views.dispatch.subscribers.get(spec.subscriberId);
    if (sub) this.confirm(sub);
  }

  /** APPENDED → HELD (won; released instead when stopping) or LOST, for the claims folded; then starts. */
  confirm(sub: SubscriberState): void {
    const { views, workerId } = this.scope.ctx;
    const folded = views.position;
    for (const [p, cp] of this.#pending) {
      if (cp < 0 || cp > folded) continue;
      this.#pending.delete(p);
      const record = this.#records.get(p);
      this.#records.delete(p);
      const item = sub.items.get(p);
      if (record && item?.claimPosition === cp && item.owner === workerId) {
        if (this.scope.stopping) this.attempts.release(record, item.attempt);
        else
          this.attempts.hold(p, {
            record,
            attempt: item.attempt,
            claimPosition: cp,
            failures: item.failures,
          });
      }
    }
    this.attempts.startHeld();
  }
}
