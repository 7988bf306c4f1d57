import type { Position } from '../engine/position.js';
import type { RecordOf } from '../engine/records.js';
import type { ResolvedSubscribe } from './subscribe-options.js';
import type { RuntimeWorker } from './worker.js';

/**
 * Registers a subscriber in the log (`subscriber.registered`) unless it is registered with the same
 * fields, and waits until the fold has it. Either way the fold has then caught up with the head as it
 * was at the call: the dispatcher starts from every claim and result appended before (on a store whose
 * followers lag its appends, a claim made on an older fold would only be fenced off).
 */
export async function registerSubscriber(
  worker: RuntimeWorker,
  queue: string,
  subscriberId: string,
  o: ResolvedSubscribe,
): Promise<void> {
  const rt = worker.views;
  const existing = rt.dispatch.subscribers.get(subscriberId);
  const fields = {
    name: o.name,
    delivery: o.delivery,
    retry: o.retry,
    timeout: o.timeout,
    ...(o.filter ? { filter: o.filter } : {}),
    ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
  };
  const head = await worker.store.head();
  if (existing && !existing.deleted && sameFields(existing.reg, fields)) {
    if (head > 0) await rt.waitFor(head - 1);
    return;
  }
  const startPosition = o.from === 'new' ? head : o.from === 'earliest' ? 0 : o.from;
  const { positions } = await worker.store.append([
    { type: 'subscriber.registered', queue: queue, subscriberId, ...fields, startPosition },
  ]);
  await rt.waitFor(positions[0] as Position);
}

function sameFields(reg: RecordOf<'subscriber.registered'>, f: Record<string, unknown>): boolean {
  const a = {
    name: reg.name,
    delivery: reg.delivery,
    retry: reg.retry,
    timeout: reg.timeout,
    ...(reg.filter ? { filter: reg.filter } : {}),
    ...(reg.rateLimit ? { rateLimit: reg.rateLimit } : {}),
  };
  return JSON.stringify(a) === JSON.stringify(f);
}
