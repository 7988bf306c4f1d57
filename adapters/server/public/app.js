// The dashboard: polls /overview each second for the tables and the chart, follows /feed for the
// record tail, and with the slider folds every panel to a past position (GET /replay) with the
// change from there to now.
import { AuthError, follow, getJson, getLines, onAuthNeeded, query, setToken } from './api.js';
import { ThroughputChart } from './chart.js';
import { byId, count, dateTime, fill, h } from './dom.js';
import { renderQueues } from './queues.js';
import { KINDS, passes, Tail } from './tail.js';
import { closeTimeline, openTimeline, showDead } from './timeline.js';
import { renderWorkers } from './workers.js';

const POLL_MS = 1000;
const BACKLOG = 100; // records the tail starts with
const LIVE_KEEP = 300;

const state = {
  now: undefined, // the last /overview
  past: undefined, // the /replay shown while the slider is in the past
  filter: { queue: '', subscriber: '', kind: 'quiet' },
};
let liveRecords = [];
let stopFeed;
let replaySeq = 0;

const slider = byId('slider');
const chart = new ThroughputChart(byId('chart'));
const tail = new Tail(byId('tail').tBodies[0], (queue, id) => openTimeline(queue, id));

function setStatus(kind, text) {
  const pill = byId('status');
  pill.className = `pill ${kind}`;
  pill.textContent = text;
}

async function poll() {
  try {
    const now = await getJson('overview');
    state.now = now;
    chart.push(now.stats, Date.now());
    fill(byId('where'), `head ${count(now.head)} records · last at ${dateTime(now.time)}`);
    updateFilters(now);
    if (state.past === undefined) {
      slider.max = String(Math.max(0, now.head - 1));
      slider.value = slider.max;
      slider.disabled = now.head === 0;
      fill(byId('slider-label'), now.head === 0 ? 'empty log' : `now: position ${count(now.head - 1)}`);
      setStatus('live', 'live');
    } else {
      slider.max = String(Math.max(0, now.head - 1));
    }
    render();
    if (!stopFeed) startFeed(Math.max(0, now.head - BACKLOG));
  } catch (e) {
    if (!(e instanceof AuthError)) setStatus('down', `unreachable: ${e.message}`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function render() {
  const { now, past } = state;
  if (!now) return;
  const view = past ?? now;
  renderQueues(byId('queues').tBodies[0], view.stats, past ? now.stats : undefined, { onDead: showDead });
  renderWorkers(
    byId('workers').tBodies[0],
    view.workers,
    past ? past.time : Date.now(),
    past ? now.workers : undefined,
  );
  const at = past ? `at position ${count(past.position)} (${dateTime(past.time)})` : 'now';
  fill(byId('queues-at'), at);
  fill(byId('workers-at'), at);
}

function startFeed(from) {
  const types = KINDS[state.filter.kind];
  liveRecords = [];
  if (state.past === undefined) tail.replace([]);
  stopFeed = follow({
    from,
    filter: { queue: state.filter.queue, subscriber: state.filter.subscriber, type: types },
    onRecords: (records) => {
      liveRecords.push(...records);
      if (liveRecords.length > LIVE_KEEP) liveRecords.splice(0, liveRecords.length - LIVE_KEEP);
      if (state.past === undefined) tail.add(records);
    },
    onStatus: (s) => {
      if (state.past === undefined) setStatus(s === 'live' ? 'live' : 'down', s);
    },
  });
  fill(byId('tail-note'), state.past === undefined ? 'live, newest first' : '');
}

function restartFeed() {
  stopFeed?.();
  stopFeed = undefined;
  startFeed(Math.max(0, (state.now?.head ?? 0) - BACKLOG));
  if (state.past !== undefined) void showPastTail(state.past.position);
}

/** Folds every panel to `point` (a position, or a time) and shows it against now. */
async function travel(point) {
  const seq = ++replaySeq;
  try {
    const past = await getJson(`replay${query({ to: point })}`);
    if (seq !== replaySeq) return; // a later drag won
    if (state.now && past.position >= state.now.head - 1 && /^\d+$/.test(String(point))) return goLive();
    state.past = past;
    slider.value = String(Math.max(0, past.position));
    byId('travel').classList.add('past');
    byId('live').classList.remove('on');
    setStatus('past', `at position ${count(past.position)}`);
    fill(byId('slider-label'), `position ${count(past.position)} · ${dateTime(past.time)}`);
    fill(
      byId('replay-note'),
      'Every panel shows the log folded to this point; under each figure, its change up to now.',
    );
    chart.mark(past.time);
    render();
    await showPastTail(past.position);
  } catch (e) {
    if (seq === replaySeq) fill(byId('replay-note'), h('span', { class: 'error' }, e.message));
  }
}

async function showPastTail(position) {
  const from = Math.max(0, position - 199);
  const types = KINDS[state.filter.kind];
  const records = await getLines(`records${query({ from, limit: 200, type: types })}`);
  if (state.past?.position !== position) return;
  tail.replace(records.filter((r) => r.position <= position && passes(r, state.filter)));
  fill(byId('tail-note'), `up to position ${count(position)}`);
}

function goLive() {
  replaySeq++;
  state.past = undefined;
  byId('travel').classList.remove('past');
  byId('live').classList.add('on');
  fill(byId('replay-note'), '');
  fill(byId('tail-note'), 'live, newest first');
  chart.mark(undefined);
  tail.replace(liveRecords);
  if (state.now) {
    slider.value = slider.max;
    fill(byId('slider-label'), `now: position ${count(state.now.head - 1)}`);
  }
  setStatus('live', 'live');
  render();
}

/** Keeps the filter choices to the queues and subscribers the log has. */
function updateFilters(now) {
  const queues = now.stats.map((q) => q.queue);
  const subs = now.stats.flatMap((q) => q.subscribers.map((s) => s.subscriberId));
  setOptions(byId('f-queue'), queues);
  setOptions(byId('f-subscriber'), subs);
}

function setOptions(select, values) {
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join('\n') === values.join('\n')) return;
  const chosen = select.value;
  fill(
    select,
    h('option', { value: '' }, 'all'),
    values.map((v) => h('option', { value: v }, v)),
  );
  select.value = values.includes(chosen) ? chosen : '';
}

let dragTimer;
slider.addEventListener('input', () => {
  fill(byId('slider-label'), `position ${count(Number(slider.value))} …`);
  clearTimeout(dragTimer);
  dragTimer = setTimeout(() => travel(slider.value), 150);
});
slider.addEventListener('change', () => {
  clearTimeout(dragTimer);
  void travel(slider.value);
});
byId('live').addEventListener('click', goLive);
byId('goto').addEventListener('submit', (e) => {
  e.preventDefault();
  const point = byId('goto-input').value.trim();
  if (point) void travel(point);
});
byId('tail-filters').addEventListener('change', (e) => {
  if (e.target.id === 'f-pause') {
    tail.paused = e.target.checked;
    return;
  }
  state.filter = {
    queue: byId('f-queue').value,
    subscriber: byId('f-subscriber').value,
    kind: byId('f-kind').value,
  };
  restartFeed();
});
byId('timeline-close').addEventListener('click', closeTimeline);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closeTimeline();
});
onAuthNeeded((status) => {
  setStatus('down', status === 401 ? 'token needed' : 'wrong token');
  byId('auth').hidden = false;
  fill(byId('auth-error'), status === 403 ? 'that token does not match' : '');
});
byId('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken(byId('token').value);
  byId('auth').hidden = true;
  if (stopFeed) restartFeed();
});

void poll();
