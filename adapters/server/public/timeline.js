// One event's life in a side panel: what was published, then per subscriber each attempt — claimed,
// extended, released, its result — and the events it caused. Reached by clicking an event anywhere.
import { getJson, getLines } from './api.js';
import { byId, clock, count, dateTime, duration, fill, h } from './dom.js';

const panel = () => byId('timeline');
const body = () => byId('timeline-body');

export function closeTimeline() {
  panel().hidden = true;
}

function show(...children) {
  fill(body(), ...children);
  panel().hidden = false;
}

/** Opens the timeline of event `id` of `queue`. */
export async function openTimeline(queue, id) {
  show(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const tl = await getJson(`queues/${encodeURIComponent(queue)}/events/${encodeURIComponent(id)}/timeline`);
    show(...render(tl));
  } catch (e) {
    show(h('p', { class: 'error' }, String(e.message ?? e)));
  }
}

/** Opens the timeline of the event published at `position`. */
export async function openTimelineAt(position) {
  const [r] = await getLines(`records?from=${position}&limit=1&type=event.published`);
  if (r && r.position === position) await openTimeline(r.queue, r.eventId);
  else show(h('p', { class: 'error' }, `no event at position ${position}`));
}

/** Lists a subscriber's dead events, each opening its timeline. */
export function showDead(sub) {
  show(
    h('h3', {}, `Dead events of ${sub.subscriberId}`),
    h('p', { class: 'muted' }, `${count(sub.dead)} dead; the most recent ones by position:`),
    h(
      'ul',
      { class: 'steps' },
      [...sub.deadPositions]
        .reverse()
        .map((p) =>
          h(
            'li',
            {},
            h('button', { class: 'link', type: 'button', onclick: () => openTimelineAt(p) }, `position ${p}`),
          ),
        ),
    ),
  );
}

function render({ event, records, children }) {
  const { key, correlationId, causationId, ...otherHeaders } = event.headers ?? {};
  const facts = [
    ['queue', event.queue],
    ['id', event.id],
    ['position', event.position],
    ['published', dateTime(event.publishedAt)],
    event.availableAt > event.publishedAt ? ['held until', dateTime(event.availableAt)] : undefined,
    key ? ['key', key] : undefined,
    correlationId ? ['correlation', correlationId] : undefined,
    causationId ? ['caused by', causationId] : undefined,
    ...Object.entries(otherHeaders).map(([k, v]) => [k, String(v)]),
  ].filter(Boolean);
  const out = [
    h(
      'dl',
      { class: 'facts' },
      facts.map(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, v)]),
    ),
    h('pre', { class: 'payload' }, JSON.stringify(event.payload, null, 2) ?? 'undefined'),
  ];
  const bySub = new Map();
  for (const r of records) {
    if (r.type === 'event.published') continue;
    const sub = r.subscriberId ?? '(none)';
    if (!bySub.has(sub)) bySub.set(sub, new Map());
    const attempts = bySub.get(sub);
    if (!attempts.has(r.attempt)) attempts.set(r.attempt, []);
    attempts.get(r.attempt).push(r);
  }
  if (bySub.size === 0) out.push(h('p', { class: 'muted' }, 'No subscriber has taken it yet.'));
  for (const [sub, attempts] of bySub) {
    out.push(h('h3', {}, sub));
    for (const [attempt, steps] of [...attempts].sort((a, b) => a[0] - b[0])) {
      const result = steps.find((s) => s.type === 'result.recorded');
      const cls = result ? (result.status === 'ok' ? 'ok' : result.status === 'skipped' ? '' : 'bad') : '';
      out.push(
        h(
          'div',
          { class: `attempt ${cls}`, dataset: { attempt, status: result?.status ?? 'open' } },
          h('h3', {}, `Attempt ${attempt}`, result ? ` — ${result.status}` : ' — running'),
          h(
            'ul',
            { class: 'steps' },
            // A first attempt bound through a worker's reservation has no claim record of its own.
            result && !steps.some((s) => s.type === 'claim.acquired')
              ? h('li', { class: 'muted' }, `taken by ${result.workerId} through its reservation`)
              : null,
            steps.map((s) => step(s, event.publishedAt)),
          ),
        ),
      );
    }
  }
  if (children.length > 0) {
    out.push(h('h3', {}, 'Events it caused'));
    out.push(
      h(
        'ul',
        { class: 'steps' },
        children.map((c) =>
          h(
            'li',
            {},
            h(
              'button',
              { class: 'link', type: 'button', onclick: () => openTimeline(c.queue, c.eventId) },
              c.eventId,
            ),
            ` on ${c.queue}`,
          ),
        ),
      ),
    );
  }
  return out;
}

function step(s, publishedAt) {
  const at = h(
    'span',
    { class: 'at', title: dateTime(s.time) },
    `${clock(s.time).slice(0, 8)} +${duration(s.time - publishedAt)}`,
  );
  switch (s.type) {
    case 'claim.acquired':
      return h('li', {}, at, `claimed by ${s.workerId} (lease ${duration(s.leaseMs)})`);
    case 'claim.extended':
      return h('li', {}, at, `lease extended by ${duration(s.leaseMs)}`);
    case 'claim.released':
      return h('li', {}, at, `released by ${s.workerId}${s.reason ? `: ${s.reason}` : ''}`);
    case 'result.recorded':
      return h(
        'li',
        {},
        at,
        `${s.status} after ${duration(s.durationMs)} on ${s.workerId}`,
        s.error
          ? h('div', { class: 'error mono' }, `${s.error.name ?? 'Error'}: ${s.error.message ?? ''}`)
          : null,
        s.retryAt ? h('div', { class: 'muted' }, `next attempt at ${clock(s.retryAt)}`) : null,
      );
    default:
      return h('li', {}, at, s.type);
  }
}
