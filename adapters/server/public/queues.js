// The queues and subscribers table: one row per queue, one per subscriber under it. Given the rows of
// now as well (the slider is in the past), each figure shows its change up to now.
import { count, fill, h, rate } from './dom.js';

const FIELDS = ['depth', 'inFlight', 'done', 'failed', 'dead', 'lag'];
/** Figures whose growth is good news (shown green); the others' growth is shown red. */
const GOOD_UP = new Set(['done', 'throughput']);

/** A queue's figures: its subscribers' summed (lag: the largest), its results, its throughput. */
function queueFigures(q) {
  const subs = q.subscribers;
  const sum = (f) => subs.reduce((n, s) => n + s[f], 0);
  return {
    depth: sum('depth'),
    inFlight: sum('inFlight'),
    done: q.ok,
    failed: q.failed + q.timeout,
    dead: sum('dead'),
    lag: subs.reduce((n, s) => Math.max(n, s.lag), 0),
    throughput: q.throughput,
  };
}

function cell(field, value, now, format = count, extra) {
  const td = h('td', { class: 'num', dataset: { field } }, h('span', { class: 'v' }, extra ?? format(value)));
  if (now !== undefined && typeof value === 'number') {
    const d = (now ?? 0) - value;
    if (d !== 0) {
      const sign = d > 0 ? '+' : '−';
      td.append(
        h(
          'span',
          {
            class: `diff ${d > 0 === GOOD_UP.has(field) ? 'better' : 'worse'}`,
            title: 'change from this point to now',
          },
          `now ${format(now ?? 0)} (${sign}${format(Math.abs(d))})`,
        ),
      );
    } else td.append(h('span', { class: 'diff' }, 'same now'));
  }
  return td;
}

/**
 * Fills `tbody` with `stats` (per queue, with its subscribers); with `nowStats`, each figure carries
 * its difference to now. `onDead(subscriber)` is called when a dead count is clicked.
 */
export function renderQueues(tbody, stats, nowStats, { onDead }) {
  const nowQueues = new Map((nowStats ?? []).map((q) => [q.queue, q]));
  const nowSubs = new Map((nowStats ?? []).flatMap((q) => q.subscribers.map((s) => [s.subscriberId, s])));
  const past = nowStats !== undefined;
  const rows = [];
  for (const q of stats) {
    const f = queueFigures(q);
    const n = nowQueues.has(q.queue) ? queueFigures(nowQueues.get(q.queue)) : undefined;
    rows.push(
      h(
        'tr',
        { class: 'queue', dataset: { queue: q.queue } },
        h('td', {}, q.queue, ' ', h('span', { class: 'muted' }, `${count(q.published)} published`)),
        ...FIELDS.map((field) => cell(field, f[field], past ? n?.[field] : undefined)),
        cell('throughput', f.throughput, past ? n?.throughput : undefined, rate),
      ),
    );
    for (const s of q.subscribers) {
      const ns = past ? (nowSubs.get(s.subscriberId) ?? {}) : undefined;
      const dead =
        s.dead > 0 && s.deadPositions.length > 0
          ? h('button', { class: 'link', type: 'button', onclick: () => onDead(s) }, count(s.dead))
          : undefined;
      rows.push(
        h(
          'tr',
          { class: 'sub', dataset: { subscriber: s.subscriberId } },
          h('td', {}, s.name, ' ', h('span', { class: 'muted' }, s.delivery)),
          ...FIELDS.map((field) =>
            cell(field, s[field], ns?.[field], count, field === 'dead' ? dead : undefined),
          ),
          h('td', { class: 'num muted' }, ''),
        ),
      );
    }
  }
  if (rows.length === 0) {
    rows.push(h('tr', {}, h('td', { class: 'empty', colspan: 8 }, 'No queue in the log yet.')));
  }
  fill(tbody, rows);
}
