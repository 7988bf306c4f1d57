// The record tail: the newest records first, batches shown one row per item, each event id a link to
// its timeline.
import { clock, duration, fill, h, preview } from './dom.js';

const MAX_ROWS = 300;

/** The record types behind each choice of the tail's "kind" filter (none: every type). */
export const KINDS = {
  quiet: [
    'event.published',
    'subscriber.registered',
    'subscriber.deleted',
    'claim.acquired',
    'claim.extended',
    'claim.released',
    'claims.acquired',
    'claim.reserved',
    'token.claimed',
    'result.recorded',
    'results.recorded',
    'worker.joined',
    'worker.left',
    'control.end',
    'control.interrupt',
    'events.redriven',
    'schedule.registered',
    'schedule.deleted',
    'snapshot.taken',
  ],
  all: [],
  events: ['event.published'],
  claims: [
    'claim.acquired',
    'claims.acquired',
    'claim.extended',
    'claim.released',
    'claim.reserved',
    'token.claimed',
  ],
  results: ['result.recorded', 'results.recorded'],
  subscribers: ['subscriber.registered', 'subscriber.deleted'],
  workers: ['worker.joined', 'worker.heartbeat', 'worker.left'],
};

const ITEM_TYPE = { 'claims.acquired': 'claim.acquired', 'results.recorded': 'result.recorded' };

/** A batch record as one record per item (same position and time), others as they are. */
export function expand(record) {
  const type = ITEM_TYPE[record.type];
  if (!type) return [record];
  const { items, ...base } = record;
  return items.map((item, i) => ({ ...base, ...item, type, item: i }));
}

/** True when `record` passes the queue and subscriber filters (the type is filtered by the server). */
export function passes(record, { queue, subscriber }) {
  if (queue && record.queue !== queue) return false;
  if (subscriber && record.subscriberId !== subscriber) return false;
  return true;
}

function badge(r) {
  const kind = r.type.split('.')[0];
  const cls =
    kind === 'result' ? `result ${r.status === 'ok' ? 'ok' : r.status === 'skipped' ? '' : 'bad'}` : kind;
  return h('span', { class: `type ${cls}` }, r.type);
}

function detail(r) {
  const sub = r.subscriberId ? r.subscriberId.slice(r.subscriberId.indexOf('/') + 1) : '';
  switch (r.type) {
    case 'event.published':
      return preview(r.payload, 120);
    case 'claim.acquired':
    case 'claim.extended':
      return `${sub} · attempt ${r.attempt} · ${r.workerId} · lease ${duration(r.leaseMs)}`;
    case 'claim.released':
      return `${sub} · attempt ${r.attempt} · ${r.workerId}${r.reason ? ` · ${r.reason}` : ''}`;
    case 'result.recorded':
      return [
        `${r.status} · ${sub} · attempt ${r.attempt} · ${duration(r.durationMs)}`,
        r.error ? ` · ${r.error.name ?? 'Error'}: ${r.error.message ?? ''}` : '',
        r.retryAt ? ` · retry at ${clock(r.retryAt)}` : '',
      ].join('');
    case 'claim.reserved':
      return `${r.slots} slots for ${r.workerId}`;
    case 'subscriber.registered':
      return `${r.delivery} · from position ${r.startPosition}`;
    case 'worker.joined':
    case 'worker.heartbeat':
    case 'worker.left':
      return `${r.host} · pid ${r.pid} · ${r.queues.join(', ')}`;
    case 'token.claimed':
      return `${r.claimId} by ${r.workerId}`;
    case 'snapshot.taken':
      return `snapshot at ${r.snapshotPosition} · ${r.ref}${r.bytes === undefined ? '' : ` · ${r.bytes} bytes`}`;
    default: {
      const { type: _t, position: _p, time: _ti, v: _v, queue: _q, ...rest } = r;
      return preview(rest, 120);
    }
  }
}

/** What a record is about: an event (a link to its timeline), a subscriber, a worker or a claim. */
function about(r, onEvent) {
  if (r.eventId) {
    return h(
      'button',
      { class: 'link', type: 'button', onclick: () => onEvent(r.queue, r.eventId) },
      r.eventId,
    );
  }
  const text = r.subscriberId ?? r.workerId ?? r.claimId ?? r.scheduleId ?? '';
  return h('span', { class: 'mono' }, text);
}

export class Tail {
  #tbody;
  #onEvent;
  #rows = [];
  #scheduled = false;
  paused = false;

  /** `onEvent(queue, id)`: an event id was clicked. */
  constructor(tbody, onEvent) {
    this.#tbody = tbody;
    this.#onEvent = onEvent;
  }

  /** Adds records (ascending) at the top; the oldest fall off past the last few hundred. */
  add(records) {
    for (const r of records) this.#rows.push(...expand(r));
    if (this.#rows.length > MAX_ROWS) this.#rows.splice(0, this.#rows.length - MAX_ROWS);
    this.#schedule();
  }

  /** Shows exactly `records` (ascending). */
  replace(records) {
    this.#rows = records.flatMap(expand).slice(-MAX_ROWS);
    this.#schedule(true);
  }

  #schedule(force = false) {
    if (this.#scheduled || (this.paused && !force)) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      this.#render();
    });
  }

  #render() {
    const rows = [];
    for (let i = this.#rows.length - 1; i >= 0; i--) {
      const r = this.#rows[i];
      rows.push(
        h(
          'tr',
          { dataset: { position: r.position, type: r.type, event: r.eventId } },
          h('td', { class: 'num mono' }, r.position),
          h('td', { class: 'mono' }, clock(r.time)),
          h('td', {}, badge(r)),
          h('td', {}, r.queue ?? (r.queues ? r.queues.join(', ') : '')),
          h('td', {}, about(r, this.#onEvent)),
          h('td', { class: 'detail mono' }, detail(r)),
        ),
      );
    }
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { class: 'empty', colspan: 6 }, 'No record yet.')));
    fill(this.#tbody, rows);
  }
}
