import {
  isFinished,
  isLeased,
  rateRoom,
  type Death,
  type QueueState,
  type WorkItem,
  type SubscriberState,
} from '../../projections/dispatch/index.js';
import type { Position } from '../../engine/position.js';

/**
 * An event this worker may claim, and the attempt the claim would be; or, with `died`, an event whose
 * claim ended with its worker's death: this worker reports that attempt (`attempt`) as failed.
 */
export interface Candidate {
  readonly position: Position;
  readonly attempt: number;
  readonly died?: DeadClaim;
}

/** A claim held by a worker that died: who, how, and the failures before it. */
export interface DeadClaim {
  readonly workerId: string;
  readonly death: Death;
  readonly failures: number;
}

export interface ScanInput {
  readonly sub: SubscriberState;
  readonly q: QueueState;
  /** How many events to pick at most. */
  readonly free: number;
  /** Current time estimate (ms since the epoch). */
  readonly now: number;
  /** Live workers running the subscriber, sorted, this one included. */
  readonly liveWorkers: readonly string[];
  readonly me: string;
  readonly graceMs: number;
  /** Events after this position are not to be dispatched (an end order). */
  readonly ending: Position;
  /** Events this worker is already claiming or running. */
  readonly busy: (p: Position) => boolean;
  /** When the worker holding a claimed item is dead now: its death (see projections liveness.ts). */
  readonly deathOf: (item: WorkItem) => Death | undefined;
}

/** How far past the finishedBelow a scan looks for work to take over from other workers. */
const STEAL_WINDOW = 4096;

/**
 * Picks claimable events of a competing subscriber for this worker. Events are spread by hashing over
 * the live workers of the subscriber: this worker's share first, lowest positions first; then, when it has room left, events
 * of other workers that have waited longer than the grace, highest positions first — so a helping worker
 * and the owner work from opposite ends instead of racing for the same events. An event claimed by a
 * worker that died is a candidate for a report of that death (spread the same way, so that one live
 * worker reports it, and another after the grace). Returns the candidates and the time at which the
 * scan should run again (a delay, a lease or a grace running out).
 */
export function scanCompeting(input: ScanInput): { candidates: Candidate[]; wake: number } {
  let s = input;
  if (s.sub.reg.rateLimit) {
    // Claims past the rate limit would not be granted: take no more than it leaves, wake when it frees.
    const { room, freeAt } = rateRoom(s.sub, s.now);
    if (room <= 0) return { candidates: [], wake: freeAt };
    s = { ...s, free: Math.min(s.free, room) };
  }
  if (s.q.priorities.size > 0) return scanByPriority(s);
  const candidates: Candidate[] = [];
  const stealable: Candidate[] = [];
  const { sub, q, now } = s;
  let wake = sub.revived.size > 0 ? scanRevived(s, candidates) : Infinity;
  // Indexes relative to the base: the finishedBelow is at or above it (event-index.ts's floor).
  const { positions } = q;
  const from = sub.finishedBelow - q.base;
  const end = Math.min(positions.length, from + STEAL_WINDOW);
  for (let i = from; i < positions.length && candidates.length < s.free; i++) {
    const p = positions[i] as Position;
    if (p > s.ending || (i >= end && stealable.length > 0)) break;
    const report = deadClaim(s, p);
    if (report) {
      if (mine(s, p)) candidates.push(report);
      else if (now - report.died.death.at >= s.graceMs) stealable.push(report);
      else wake = Math.min(wake, report.died.death.at + s.graceMs);
      continue;
    }
    const open = openAt(s, i, p);
    if (typeof open === 'number') {
      wake = Math.min(wake, open);
      continue;
    }
    const { item, availableAt } = open;
    const candidate = { position: p, attempt: (item?.attempt ?? 0) + 1 };
    if (mine(s, p)) {
      candidates.push(candidate);
      continue;
    }
    const since = Math.max(availableAt, item?.leaseUntil ?? 0);
    if (now - since >= s.graceMs) stealable.push(candidate);
    else wake = Math.min(wake, since + s.graceMs);
  }
  while (candidates.length < s.free && stealable.length > 0) candidates.push(stealable.pop() as Candidate);
  return { candidates, wake };
}

/**
 * The scan of a queue some of whose events carry a priority: every available event in the window, the
 * highest priority first and the lowest position first within one, whoever's share it is in (two
 * workers may then try for the same event: the fold gives it to the first claim, the other claims
 * again). Strict order across workers matters more here than spreading the claims.
 */
function scanByPriority(s: ScanInput): { candidates: Candidate[]; wake: number } {
  const { sub, q, now } = s;
  const available: (Candidate & { priority: number })[] = [];
  const reports: Candidate[] = [];
  let wake = Infinity;
  if (sub.revived.size > 0) {
    const revived: Candidate[] = [];
    wake = scanRevived({ ...s, free: Infinity }, revived);
    for (const c of revived) available.push({ ...c, priority: q.priorities.get(c.position) ?? 0 });
  }
  const from = sub.finishedBelow - q.base;
  const end = Math.min(q.positions.length, from + STEAL_WINDOW);
  for (let i = from; i < end; i++) {
    const p = q.positions[i] as Position;
    if (p > s.ending) break;
    const report = deadClaim(s, p);
    if (report) {
      if (mine(s, p) || now - report.died.death.at >= s.graceMs) reports.push(report);
      else wake = Math.min(wake, report.died.death.at + s.graceMs);
      continue;
    }
    const open = openAt(s, i, p);
    if (typeof open === 'number') {
      wake = Math.min(wake, open);
      continue;
    }
    const { item } = open;
    available.push({ position: p, attempt: (item?.attempt ?? 0) + 1, priority: q.priorities.get(p) ?? 0 });
  }
  available.sort((a, b) => b.priority - a.priority || a.position - b.position);
  // Reports of dead workers' claims first: the events they free are retried in priority order.
  const claims = available
    .slice(0, Math.max(0, s.free - reports.length))
    .map(({ position, attempt }) => ({ position, attempt }));
  return { candidates: [...reports.slice(0, s.free), ...claims], wake };
}

/**
 * A report of the claim on the event at `p` when the worker holding it is dead (see {@link Candidate});
 * undefined when this worker is busy with the event or its claim's worker lives.
 */
function deadClaim(s: ScanInput, p: Position): (Candidate & { died: DeadClaim }) | undefined {
  if (s.busy(p)) return undefined;
  const item = s.sub.items.get(p);
  const death = item?.status === 'claimed' ? s.deathOf(item) : undefined;
  if (item === undefined || death === undefined) return undefined;
  return {
    position: p,
    attempt: item.attempt,
    died: { workerId: item.owner as string, death, failures: item.failures },
  };
}

/** True when the event is this worker's share among the live workers. */
function mine(s: ScanInput, p: Position): boolean {
  return s.liveWorkers.length <= 1 || s.liveWorkers[mix(p) % s.liveWorkers.length] === s.me;
}

/**
 * Whether the event at index `i` of the events held (position `p`) may be claimed now: its work item (if any) and time of
 * availability; otherwise when to look again (Infinity: not for this worker, busy or finished).
 */
function openAt(
  s: ScanInput,
  i: number,
  p: Position,
): number | { item: WorkItem | undefined; availableAt: number } {
  if (s.busy(p)) return Infinity;
  const item = s.sub.items.get(p);
  if (item && (isFinished(item) || isLeased(item, s.now))) {
    return item.status === 'claimed' ? item.leaseUntil : Infinity;
  }
  const availableAt = item?.availableAt ?? s.q.availableAt[i] ?? 0;
  return availableAt > s.now ? availableAt : { item, availableAt };
}

/**
 * Redriven events below the finishedBelow (`sub.revived`), oldest first, into `candidates` (up to
 * `free`); returns when to scan again. Any worker may take them (they are few, and the fold gives each
 * to the first claim).
 */
function scanRevived(s: ScanInput, candidates: Candidate[]): number {
  let wake = Infinity;
  for (const p of [...s.sub.revived].sort((a, b) => a - b)) {
    if (candidates.length >= s.free || p > s.ending) break;
    const item = s.sub.items.get(p);
    if (!item || s.busy(p) || isFinished(item)) continue;
    if (isLeased(item, s.now)) wake = Math.min(wake, item.leaseUntil);
    else if (item.availableAt > s.now) wake = Math.min(wake, item.availableAt);
    else candidates.push({ position: p, attempt: item.attempt + 1 });
  }
  return wake;
}

/** An integer hash that spreads regular positions evenly. */
export function mix(p: number): number {
  let h = Math.imul(p ^ (p >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}
