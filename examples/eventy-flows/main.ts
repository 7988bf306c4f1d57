// Eventy's own flows (the Python Eventy's README, in TypeScript): typed queues, a function subscriber and
// a class subscriber, results, raw claims as exclusive tokens, and stable pages of events and results.
// Run: npm run example:eventy-flows   (store: EVENTY_STORE, default memory:)
import { createQueueManager, Subscriber, type HandlerContext, type QueueEvent } from 'eventy';

interface Order {
  readonly id: number;
  readonly total: number;
}
interface Receipt {
  readonly orderId: number;
  readonly line: string;
}

await using manager = await createQueueManager({
  store: process.env.EVENTY_STORE ?? 'memory:',
  handleSignals: false,
});

// Typed queues: the payload type travels with the queue.
const orders = manager.queue<Order>('orders');
const receipts = manager.queue<Receipt>('receipts');

// A function subscriber: its return value is the result's details; ctx.publish chains a follow-up.
await orders.subscribe(
  async (event: QueueEvent<Order>, ctx: HandlerContext) => {
    if (event.payload.total < 0) throw new RangeError(`order ${event.payload.id} has a negative total`);
    await ctx.publish<Receipt>(
      { orderId: event.payload.id, line: `order ${event.payload.id}: ${event.payload.total}` },
      { queue: 'receipts' },
    );
    return { billed: event.payload.total };
  },
  { name: 'bill', from: 'earliest' },
);

// A class subscriber (Eventy's Subscriber with on_event), its options on the class.
class Printer extends Subscriber<Receipt> {
  override readonly options = { concurrency: 1 };
  readonly printed: string[] = [];
  override onEvent(event: QueueEvent<Receipt>): void {
    this.printed.push(event.payload.line);
  }
}
const printer = new Printer();
await receipts.subscribe(printer, { from: 'earliest' });

// Publish, then wait for each event's final result.
const published = await orders.publishMany([
  { id: 1, total: 120 },
  { id: 2, total: 80 },
  { id: 3, total: -5 },
  { id: 4, total: 42 },
  { id: 5, total: 7 },
]);
for (const event of published) {
  const result = await orders.waitForResult(event.id, { subscriber: 'bill' });
  const outcome = result.status === 'ok' ? JSON.stringify(result.details) : result.error?.message;
  console.log(`result order ${event.payload.id}: ${result.status} ${outcome}`);
}

// Results: by event, by id, searched and counted.
const order1 = published[0]?.id ?? '';
const [first] = await orders.getResults(order1); // every result of one event
const again = await orders.getResult(first?.id ?? ''); // one result by its id
console.log(`getResult: ${again.status} for event ${again.eventId === order1 ? 'of order 1' : '?'}`);
console.log(
  `results ok ${await orders.countResults({ status: 'ok' })}, failed ${await orders.countResults({ status: 'failed' })}`,
);

// Raw claims: an exclusive named token, true for the first caller ever, false after.
console.log(`claim nightly-report: ${await orders.createClaim('nightly-report', { by: 'example' })}`);
console.log(`claim nightly-report again: ${await orders.createClaim('nightly-report')}`);
const claim = await orders.getClaim('nightly-report');
console.log(
  `claim held by this worker: ${claim.workerId === manager.workerId}, data ${JSON.stringify(claim.data)}`,
);
console.log(`claims: ${await orders.countClaims()}`);

// Pagination: { items, nextPageId }, pages stable and disjoint, null after the last one.
let pageId: string | null = null;
let page = 0;
do {
  const { items, nextPageId } = await orders.searchEvents({ limit: 2, pageId });
  console.log(`events page ${++page}: ${items.map((e) => e.payload.id).join(', ')}`);
  pageId = nextPageId;
} while (pageId !== null);

// The follow-ups arrived too (the class subscriber runs one at a time, in order).
await Promise.all(
  (await receipts.searchEvents()).items.map((e) => receipts.waitForResult(e.id, { subscriber: 'Printer' })),
);
console.log(`receipts printed: ${printer.printed.length}`);
const subs = await orders.searchSubscriptions();
console.log(`subscribers of orders: ${subs.items.map((s) => s.name).join(', ')}`);
console.log('done');
