import { describe, expect, it } from 'vitest';
import { Notifier } from '../../engine/notifier.js';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('Notifier', () => {
  it('wakes every waiter on notify, and only the waiters then', async () => {
    const n = new Notifier();
    const a = n.wait();
    const b = n.wait(new AbortController().signal);
    n.notify();
    expect(await settled(a)).toBe(true);
    expect(await settled(b)).toBe(true);
    const c = n.wait();
    expect(await settled(c)).toBe(false);
    expect(n.waiting).toBe(1);
  });

  it('wakes the waiters of a signal when it aborts, each wait on it after at once, none of the others', async () => {
    const n = new Notifier();
    const ctl = new AbortController();
    const waits = [n.wait(ctl.signal), n.wait(ctl.signal, 60_000)];
    const other = n.wait(new AbortController().signal);
    expect(await settled(waits[0] as Promise<void>)).toBe(false);
    ctl.abort();
    for (const w of waits) expect(await settled(w)).toBe(true);
    expect(await settled(other)).toBe(false);
    expect(await settled(n.wait(ctl.signal))).toBe(true);
    expect(n.waiting).toBe(1); // `other` only
  });

  it('gives up a wait after its timeout', async () => {
    const n = new Notifier();
    const ctl = new AbortController();
    const w = n.wait(ctl.signal, 5);
    await new Promise((r) => setTimeout(r, 30));
    expect(await settled(w)).toBe(true);
    expect(n.waiting).toBe(0);
  });
});
