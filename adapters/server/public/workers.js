// The workers table: each worker the log knows, whether it is alive, its last heartbeat (as of the
// view's time) and what it runs.
import { duration, fill, h } from './dom.js';

/** Fills `tbody` with `workers` as of log time `time`; with `nowWorkers`, notes how each stands now. */
export function renderWorkers(tbody, workers, time, nowWorkers) {
  const now = new Map((nowWorkers ?? []).map((w) => [w.workerId, w]));
  const rows = workers.map((w) => {
    const state = w.leftAt !== null ? 'left' : w.alive ? 'alive' : 'silent';
    const later = nowWorkers && now.get(w.workerId);
    const nowState = nowWorkers
      ? !later
        ? 'gone now'
        : later.leftAt !== null
          ? 'left since'
          : later.alive
            ? 'alive now'
            : 'silent now'
      : undefined;
    return h(
      'tr',
      { dataset: { worker: w.workerId } },
      h(
        'td',
        {},
        h('span', { class: 'mono' }, w.workerId),
        h('span', { class: 'diff' }, `${w.host} · pid ${w.pid}`),
      ),
      h(
        'td',
        { class: state === 'alive' ? 'state-alive' : 'state-dead' },
        state,
        nowState && h('span', { class: 'diff' }, nowState),
      ),
      h('td', { class: 'num' }, `${duration(Math.max(0, time - w.lastBeat))} ago`),
      h(
        'td',
        {},
        w.subscribers.length > 0 ? w.subscribers.join(', ') : h('span', { class: 'muted' }, 'nothing'),
      ),
    );
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { class: 'empty', colspan: 4 }, 'No worker.')));
  fill(tbody, rows);
}
