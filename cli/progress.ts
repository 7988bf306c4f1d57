import type { OutStream } from './context.js';
import { formatCount } from './output.js';

/** A progress bar on stderr: drawn only on a terminal, so pipes and logs stay clean. */
export interface Progress {
  /** Sets how far the work is (`done` of `total`); redraws at most ten times a second. */
  update(done: number, total?: number): void;
  /** Clears the bar. */
  done(): void;
}

const silent: Progress = { update: () => undefined, done: () => undefined };

/**
 * A progress bar labelled `label` counting `unit`s, or a silent one when `stream` is not a terminal.
 * @example const bar = progressBar(ctx.stderr, 'replay', 'records'); bar.update(500, 1000); bar.done();
 */
export function progressBar(stream: OutStream, label: string, unit: string, total = 0): Progress {
  if (stream.isTTY !== true) return silent;
  const started = performance.now();
  let last = 0;
  let drawn = false;
  let max = total;
  const draw = (done: number): void => {
    const cols = Math.max(40, (stream.columns ?? 80) - 1);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    const ratio = max > 0 ? Math.min(1, done / max) : 0;
    const tail = ` ${Math.floor(ratio * 100)}% ${formatCount(done)}/${formatCount(max)} ${unit} ${formatCount(rate)}/s`;
    const barWidth = Math.max(10, cols - label.length - tail.length - 3);
    const full = Math.round(ratio * barWidth);
    stream.write(`\r${label} [${'#'.repeat(full)}${'-'.repeat(barWidth - full)}]${tail}\u001b[K`);
    drawn = true;
  };
  return {
    update(done, newTotal) {
      if (newTotal !== undefined) max = newTotal;
      const now = performance.now();
      if (now - last < 100 && done < max) return;
      last = now;
      draw(done);
    },
    done() {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}
