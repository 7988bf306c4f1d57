import { afterEach, describe, expect, it } from 'vitest';
import { Children } from '../support/children.js';
import { tempDir } from '../support/temp.js';

const children = new Children();
afterEach(() => children.killAll());

describe('examples/eventy-flows', () => {
  it('runs typed queues, subscribers, results, raw claims and pagination to completion on a file store', async () => {
    const store = `file:${await tempDir()}`;
    const app = children.spawn('examples/eventy-flows/main.ts', [], { env: { EVENTY_STORE: store } });
    const exit = await app.exited;
    expect(exit, app.stderr()).toEqual({ code: 0, signal: null });
    expect(app.stderr()).toBe('');
    expect(app.lines).toEqual([
      'result order 1: ok {"billed":120}',
      'result order 2: ok {"billed":80}',
      'result order 3: failed order 3 has a negative total',
      'result order 4: ok {"billed":42}',
      'result order 5: ok {"billed":7}',
      'getResult: ok for event of order 1',
      'results ok 4, failed 1',
      'claim nightly-report: true',
      'claim nightly-report again: false',
      'claim held by this worker: true, data {"by":"example"}',
      'claims: 1',
      'events page 1: 1, 2',
      'events page 2: 3, 4',
      'events page 3: 5',
      'receipts printed: 4',
      'subscribers of orders: bill',
      'done',
    ]);
  });
});
