// Soak scenario: publisher processes SIGKILLed at random moments and started again. Each prints the id of
// every batch its store acknowledged; once all are gone the log is read back: an acknowledged batch that is
// missing is lost, a batch with some but not all of its records visible is partial. Both must be 0.
import { batchOutcome, readLog } from './soak-log.js';
import { kill, randomInt, script, sleep, start, type Proc } from './soak-procs.js';

/** One row of the publishers' table. */
export interface PublishersRow {
  readonly store: string;
  readonly kills: number;
  readonly acknowledged: number;
  /** Batches wholly in the log (acknowledged or not). */
  readonly whole: number;
  readonly lost: number;
  readonly partial: number;
  /** Publishers that ended on their own (an append failed), and position gaps in the log. */
  readonly errors: number;
}

/** Runs `publishers` publishers on `url`, SIGKILLs one at random `kills` times, and counts. */
export async function publishersUnderKill(
  store: string,
  url: string,
  kills: number,
  publishers = 2,
): Promise<PublishersRow> {
  const acked = new Set<string>();
  const errors: string[] = [];
  let started = 0;
  const publisher = (slot: number): Promise<Proc> => {
    const [node, file] = script('soak-publisher');
    return start(
      node,
      [file, url, `${store}-${slot}-${started++}`],
      (line) => {
        if (line.startsWith('ack ')) acked.add(line.slice(4));
      },
      (line) => line === 'ready',
    );
  };
  const procs = await Promise.all(Array.from({ length: publishers }, (_, slot) => publisher(slot)));
  try {
    for (let k = 0; k < kills; k++) {
      const slot = randomInt(0, publishers - 1);
      // Long enough for several appends (and now and then a large one) to be under way.
      await sleep(randomInt(30, 500));
      const proc = procs[slot] as Proc;
      if (proc.child.exitCode !== null)
        errors.push(`publisher ended with ${proc.child.exitCode}: ${proc.stderr()}`);
      await kill(proc);
      procs[slot] = await publisher(slot);
    }
    await sleep(200);
  } finally {
    for (const p of procs) if (p.child.exitCode !== null) errors.push(`publisher ended: ${p.stderr()}`);
    await Promise.all(procs.map(kill));
  }
  const outcome = batchOutcome(await readLog(url), acked);
  for (const e of errors) console.error(e);
  return {
    store,
    kills,
    acknowledged: acked.size,
    whole: outcome.whole,
    lost: outcome.lost,
    partial: outcome.partial,
    errors: errors.length + outcome.gaps,
  };
}
