import {
  isKnownRecord,
  unbatched,
  type KnownRecord,
  type StoredRecord,
  type RecordOf,
  type FilterSpec,
} from '../index.js';
import { formatDuration, formatTime, preview, safe, type Colour, type Painter } from './output.js';

const TYPE_COLOUR: Record<string, Colour> = {
  event: 'cyan',
  subscriber: 'magenta',
  claim: 'blue',
  claims: 'blue',
  token: 'blue',
  result: 'green',
  results: 'green',
  worker: 'yellow',
  control: 'red',
  events: 'red',
  schedule: 'magenta',
};

const STATUS_COLOUR: Record<string, Colour> = { ok: 'green', failed: 'red', timeout: 'red', skipped: 'gray' };

/** The part of a subscriber id after its queue (`orders/bill` → `bill`). */
export function subscriberName(queue: string, subscriberId: string): string {
  return subscriberId.startsWith(`${queue}/`) ? subscriberId.slice(queue.length + 1) : subscriberId;
}

/**
 * One human line for a record: time, position, type, queue, then the fields that matter for its type; a
 * batch record adds one indented line per item.
 * @example 2025-01-31T12:00:00.000Z      42 claim.acquired        orders  event=… sub=bill worker=… attempt=1
 */
export function recordLine(r: StoredRecord, paint: Painter): string {
  const family = r.type.split('.')[0] ?? '';
  const type = paint(TYPE_COLOUR[family] ?? 'gray', safe(r.type).padEnd(21));
  const q = (r as { queue?: unknown }).queue;
  const queue = typeof q === 'string' ? safe(q) : '-';
  const fields = isKnownRecord(r) ? knownFields(r, paint) : preview(foreignFields(r), 120);
  return `${paint('gray', formatTime(r.time))} ${String(r.position).padStart(8)} ${type} ${paint('bold', queue)}  ${fields}`;
}

function foreignFields(r: StoredRecord): Record<string, unknown> {
  const { type: _t, position: _p, time: _m, v: _v, queue: _q, ...rest } = r as Record<string, unknown>;
  return rest;
}

function kv(name: string, value: unknown): string {
  return `${name}=${typeof value === 'string' ? safe(value) : preview(value, 80)}`;
}

function knownFields(r: KnownRecord, paint: Painter): string {
  switch (r.type) {
    case 'event.published': {
      const parts = [kv('id', r.eventId), kv('payload', preview(r.payload))];
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) parts.push(kv(safe(k), v));
      if (r.delay !== undefined) parts.push(kv('delay', formatDuration(r.delay)));
      if (r.availableAt !== undefined) parts.push(kv('at', formatTime(r.availableAt)));
      return parts.join(' ');
    }
    case 'subscriber.registered':
      return [
        kv('sub', r.name),
        r.delivery,
        ...(r.filter ? [kv('filter', filterText(r.filter))] : []),
        kv('retries', r.retry.limit),
        ...(r.timeout > 0 ? [kv('timeout', formatDuration(r.timeout))] : []),
        kv('start', r.startPosition),
      ].join(' ');
    case 'subscriber.deleted':
      return kv('sub', subscriberName(r.queue, r.subscriberId));
    case 'claim.acquired':
    case 'claim.extended':
    case 'claim.released':
    case 'result.recorded':
      return claimFields(r, paint);
    case 'claims.acquired':
    case 'results.recorded':
      return batchFields(r, paint);
    case 'claim.reserved':
      return [
        kv('sub', subscriberName(r.queue, r.subscriberId)),
        kv('worker', r.workerId),
        r.ttlMs > 0 ? kv('slots', `+${r.slots}`) : 'cancelled',
        ...(r.ttlMs > 0 ? [kv('ttl', formatDuration(r.ttlMs)), kv('lease', formatDuration(r.leaseMs))] : []),
      ].join(' ');
    case 'token.claimed':
      return [kv('claim', r.claimId), kv('worker', r.workerId)].join(' ');
    case 'worker.joined':
    case 'worker.heartbeat':
    case 'worker.left':
      return [
        kv('worker', r.workerId),
        kv('pid', r.pid),
        kv('queues', r.queues.join(',') || '-'),
        ...(r.type === 'worker.heartbeat' && r.renews?.length ? [kv('renews', r.renews.length)] : []),
        ...(r.type === 'worker.left' && r.reason !== undefined ? [kv('reason', r.reason)] : []),
        ...(r.type === 'worker.left' && r.detail !== undefined ? [kv('detail', r.detail)] : []),
      ].join(' ');
    case 'control.end':
      return kv('timeout', formatDuration(r.timeout));
    case 'control.interrupt':
      return '';
    case 'events.redriven':
      return [
        kv('sub', subscriberName(r.queue, r.subscriberId)),
        kv('events', Array.isArray(r.eventPositions) ? r.eventPositions.length : 0),
        kv('positions', r.eventPositions),
      ].join(' ');
    case 'schedule.registered':
      return [
        kv('schedule', r.scheduleId),
        ...(r.cron !== undefined ? [kv('cron', r.cron)] : []),
        ...(r.every !== undefined ? [kv('every', formatDuration(r.every))] : []),
        ...(r.at !== undefined ? [kv('at', formatTime(r.at))] : []),
        ...(r.tz !== undefined ? [kv('tz', r.tz)] : []),
        ...(r.startAt !== undefined ? [kv('start', formatTime(r.startAt))] : []),
        ...(r.endAt !== undefined ? [kv('end', formatTime(r.endAt))] : []),
        ...(r.limit !== undefined ? [kv('limit', r.limit)] : []),
        kv('catch-up', r.catchUp === 'all' ? `all≤${r.maxCatchUp}` : r.catchUp),
      ].join(' ');
    case 'schedule.deleted':
      return kv('schedule', r.scheduleId);
    case 'snapshot.taken':
      return [
        kv('at', r.snapshotPosition),
        kv('ref', r.ref),
        ...(r.bytes !== undefined ? [kv('bytes', r.bytes)] : []),
        kv('format', r.formatVersion),
        kv('crc', `0x${r.checksum.toString(16)}`),
      ].join(' ');
  }
}

type ClaimLike = Extract<KnownRecord, { eventId: string; subscriberId: string; attempt: number }>;

/** A batch record: its shared fields, then one indented line per item. */
function batchFields(r: RecordOf<'claims.acquired'> | RecordOf<'results.recorded'>, paint: Painter): string {
  const items = unbatched(r) as ClaimLike[];
  const head = [
    kv('sub', subscriberName(r.queue, r.subscriberId)),
    kv('worker', r.workerId),
    ...(r.type === 'claims.acquired' ? [kv('lease', formatDuration(r.leaseMs))] : []),
    kv('items', items.length),
  ];
  const indent = ' '.repeat(ITEM_INDENT);
  return [
    head.join(' '),
    ...items.map((it) => `${indent}${paint('gray', `#${it.item ?? 0}`)} ${itemFields(it, paint)}`),
  ].join('\n');
}

/** What a batch item adds to its batch's fields. */
function itemFields(r: ClaimLike, paint: Painter): string {
  const parts: string[] = [];
  if (r.type === 'result.recorded') parts.push(paint(STATUS_COLOUR[r.status] ?? 'gray', r.status));
  parts.push(kv('event', r.eventId), kv('attempt', r.attempt));
  if (r.type === 'result.recorded') resultParts(r, parts, paint);
  return parts.join(' ');
}

function resultParts(r: RecordOf<'result.recorded'>, parts: string[], paint: Painter): void {
  parts.push(kv('took', formatDuration(r.durationMs)));
  if (r.error) parts.push(paint('red', kv('error', `${r.error.name}: ${r.error.message}`)));
  if (r.retryAt !== undefined) parts.push(kv('retry', formatTime(r.retryAt)));
  if (r.reportedBy !== undefined) parts.push(kv('reported-by', r.reportedBy));
}

/** Item lines start under the type column: time (24) + position (8) + two spaces. */
const ITEM_INDENT = 34;

function claimFields(r: ClaimLike, paint: Painter): string {
  const parts: string[] = [];
  if (r.type === 'result.recorded') parts.push(paint(STATUS_COLOUR[r.status] ?? 'gray', r.status));
  parts.push(
    kv('event', r.eventId),
    kv('sub', subscriberName(r.queue, r.subscriberId)),
    kv('worker', r.workerId),
    kv('attempt', r.attempt),
  );
  if (r.type === 'claim.acquired' || r.type === 'claim.extended')
    parts.push(kv('lease', formatDuration(r.leaseMs)));
  if (r.type === 'claim.released' && r.reason !== undefined) parts.push(kv('reason', r.reason));
  if (r.type === 'result.recorded') resultParts(r, parts, paint);
  return parts.join(' ');
}

/** A registered filter as one line: its expressions and predicates (by name) joined by the operator. */
function filterText(f: FilterSpec): string {
  const parts = [...f.expressions, ...(f.predicates ?? []).map((name) => `${name}()`)];
  return parts.join(` ${f.operator} `);
}
