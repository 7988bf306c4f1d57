// A process appending to a Postgres log: `node --import tsx pg-appender.ts <url> <tag> <batches>`.
// Batch i holds (i % 5) + 1 records with eventIds `<tag>:<i>:<k>`; prints "done" when finished.
import { openStore } from '../../adapters/open-store.js';

const [url, tag, batches] = process.argv.slice(2) as [string, string, string];
const store = await openStore(url);
for (let i = 0; i < Number(batches); i++) {
  await store.append(
    Array.from({ length: (i % 5) + 1 }, (_, k) => ({
      type: 'event.published',
      queue: 'q',
      eventId: `${tag}:${i}:${k}`,
      payload: {},
      headers: {},
    })),
  );
}
await store.close();
console.log('done');
