// The throughput chart (uPlot): events published, results ok and results failed per second, from the
// difference between two samples of the per-queue counts.
import uPlot from './vendor/uplot.js';

const POINTS = 180;
const WINDOW_S = 180;

export class ThroughputChart {
  #plot;
  #data = [[], [], [], []];
  #last;
  #marker;

  constructor(el) {
    const opts = {
      width: Math.max(300, el.clientWidth),
      height: 220,
      legend: { live: true },
      scales: {
        // Always the last few minutes, so that a few samples do not stretch over a year.
        x: {
          time: true,
          range: (_u, _min, max) => [(max ?? Date.now() / 1000) - WINDOW_S, max ?? Date.now() / 1000],
        },
        y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.1)] },
      },
      axes: [{}, { size: 56, label: 'per second' }],
      series: [
        {},
        { label: 'published', stroke: '#2f6fde', width: 2, fill: 'rgba(47,111,222,0.08)' },
        { label: 'done', stroke: '#1f9d55', width: 2 },
        { label: 'failed', stroke: '#d23c3c', width: 2 },
      ],
      hooks: { draw: [(u) => this.#drawMarker(u)] },
    };
    this.#plot = new uPlot(opts, this.#data, el);
    new ResizeObserver(() =>
      this.#plot.setSize({ width: Math.max(300, el.clientWidth), height: 220 }),
    ).observe(el);
  }

  /** Adds a sample from an overview (`stats` rows, read at wall-clock `at` ms). */
  push(stats, at) {
    const totals = { published: 0, done: 0, failed: 0 };
    for (const q of stats) {
      totals.published += q.published;
      totals.done += q.ok;
      totals.failed += q.failed + q.timeout;
    }
    const last = this.#last;
    this.#last = { at, totals };
    if (!last || at <= last.at) return;
    const dt = (at - last.at) / 1000;
    const per = (k) => Math.max(0, (totals[k] - last.totals[k]) / dt);
    const d = this.#data;
    d[0].push(at / 1000);
    d[1].push(per('published'));
    d[2].push(per('done'));
    d[3].push(per('failed'));
    if (d[0].length > POINTS) for (const s of d) s.shift();
    this.#plot.setData(d);
  }

  /** Marks log time `time` (ms) on the chart, or nothing when undefined. */
  mark(time) {
    this.#marker = time === undefined ? undefined : time / 1000;
    this.#plot.redraw(false);
  }

  #drawMarker(u) {
    if (this.#marker === undefined) return;
    const x = u.valToPos(this.#marker, 'x', true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = '#c77800';
    ctx.lineWidth = 2;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.restore();
  }
}
