// A publisher of the soak (bench/soak.ts): appends batches to a log in a loop until it is killed, and prints
// `ack <batch id>` as soon as each append resolves — the batches the store acknowledged. A batch id reads
// `<tag>.<seq>.<size>` and its records' event ids `<batch id>/<i>`, so a reader of the log can tell a whole
// batch from part of one without asking this process.
// argv: storeUrl tag [retry] — with `retry`, an append that fails `unavailable` (Redis restarting) prints
// `retry` and is tried again as a new batch (the failed one was not acknowledged); any other error ends the
// process with code 2.
import { isEventyError, openStore, type RecordDraft } from '../index.js';

const [url = '', tag = 'p', mode = ''] = process.argv.slice(2);
const store = await openStore(url);
process.stdout.write('ready\n');

const pad = 'p'.repeat(120);
const randomInt = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));
for (let seq = 0; ; seq++) {
  const size = randomInt(1, 20);
  const batch = `${tag}.${seq}.${size}`;
  // Now and then a record of a few hundred KiB, so that kills land inside long writes and segment rolls.
  const big = Math.random() < 0.05 ? randomInt(0, size - 1) : -1;
  const drafts: RecordDraft[] = Array.from({ length: size }, (_, i) => ({
    type: 'event.published',
    queue: 'soak',
    eventId: `${batch}/${i}`,
    payload: i === big ? { blob: 'b'.repeat(randomInt(100, 400) * 1024) } : { pad },
    headers: {},
  }));
  try {
    await store.append(drafts);
    process.stdout.write(`ack ${batch}\n`);
  } catch (e) {
    if (mode !== 'retry' || !isEventyError(e, 'unavailable')) {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(2);
    }
    process.stdout.write('retry\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
