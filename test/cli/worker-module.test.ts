import { describe, expect, it } from 'vitest';
import { createQueueManager, Subscriber, type QueueEvent } from '../../index.js';
import { withSubscribeDefaults } from '../../cli/worker-module.js';

class Printer extends Subscriber {
  override readonly options = { concurrency: 7 };
  override onEvent(_event: QueueEvent): void {
    // nothing to do
  }
}

describe('eventy run --concurrency: the default of every subscribe in the module', () => {
  it('applies unless the call or the Subscriber says otherwise, and the manager still works behind it', async () => {
    const manager = await createQueueManager({ store: 'memory:', handleSignals: false });
    try {
      const wrapped = withSubscribeDefaults(manager, { concurrency: 3 });
      const q = wrapped.queue('jobs');
      await q.subscribe(() => undefined, { name: 'defaulted' });
      await q.subscribe(() => undefined, { name: 'explicit', concurrency: 5 });
      await q.subscribe(new Printer());
      const byName = new Map(manager.inspect().hosted.map((h) => [h.subscriber, h.concurrency]));
      expect(Object.fromEntries(byName)).toEqual({ defaulted: 3, explicit: 5, Printer: 7 });
      // Private state of the real objects is reachable through the wrapper.
      expect(wrapped.workerId).toBe(manager.workerId);
      const e = await q.publish({ n: 1 });
      expect(e.queue).toBe('jobs');
    } finally {
      await manager.close();
    }
  });
});
