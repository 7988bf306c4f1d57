import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browser, type Browser } from '../support/browser.js';
import { served } from '../support/server.js';

let chromium: Browser;
beforeAll(async () => {
  chromium = await browser();
});
afterAll(async () => {
  await chromium[Symbol.asyncDispose]();
});

const row = (subscriber: string) => `#queues tr[data-subscriber="${subscriber}"]`;

describe('the dashboard page in Chromium', () => {
  it('loads: queues and subscribers, the chart, the workers and the live tail, without an error', async () => {
    await using s = await served();
    await s.manager.queue('orders').subscribe(() => 'ok', { name: 'ship' });
    const { page, errors } = await chromium.page();
    await page.goto(`${s.server.url}/`);
    await page.locator('#status.live').waitFor({ timeout: 10_000 });
    await page.locator(row('orders/ship')).waitFor();
    await page.locator('#chart canvas').waitFor();
    await page.locator('#workers tr[data-worker]').first().waitFor();
    await page.locator('#tail tr[data-type="subscriber.registered"]').waitFor();
    expect(await page.locator('#queues thead').textContent()).toMatch(/Depth\s*events.*Lag\s*records/s);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a published event and its result within 2 s, the record as text', async () => {
    await using s = await served();
    await s.manager.queue<{ note: string }>('orders').subscribe((e) => ({ seen: e.payload.note.length }), {
      name: 'ship',
    });
    const { page, errors } = await chromium.page();
    await page.goto(`${s.server.url}/`);
    // The feed is open once its backlog is on the page.
    await page.locator('#tail tr[data-type="subscriber.registered"]').waitFor({ timeout: 10_000 });
    const note = '<img src=x onerror=window.__injected=1>';
    const start = Date.now();
    const res = await s.call('/queues/orders/events', { body: { payload: { note } } });
    const { id } = (await res.json()) as { id: string };
    const left = () => Math.max(1, 2000 - (Date.now() - start));
    const published = page.locator(`#tail tr[data-event="${id}"][data-type="event.published"]`);
    await published.waitFor({ timeout: left() });
    await page
      .locator(`#tail tr[data-event="${id}"][data-type="result.recorded"]`)
      .waitFor({ timeout: left() });
    expect(Date.now() - start).toBeLessThan(2000);
    // Record text is shown as text: the markup in the payload neither renders nor runs.
    expect(await published.locator('td.detail').textContent()).toContain(note);
    expect(await page.locator('#tail img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __injected?: unknown }).__injected)).toBeUndefined();
    // The table is polled: it follows within a few seconds.
    await page
      .locator(`${row('orders/ship')} td[data-field="done"] .v`)
      .filter({ hasText: /^1$/ })
      .waitFor({ timeout: 10_000 });
    await chromium.screenshot(page, 'dashboard-live');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("with the slider at a past position shows that position's depth, and its change to now", async () => {
    await using s = await served();
    const q = s.manager.queue<number>('work');
    const events = await q.publishMany([1, 2, 3]);
    await q.subscribe(() => 'done', { name: 'w', from: 'earliest' });
    await q.waitForResult(events[2]!.id);
    const lines = await (await s.call('/records?type=subscriber.registered')).text();
    const registered = (JSON.parse(lines.trim()) as { position: number }).position;
    const { page, errors } = await chromium.page();
    await page.goto(`${s.server.url}/`);
    const depth = page.locator(`${row('work/w')} td[data-field="depth"]`);
    await depth.locator('.v').filter({ hasText: /^0$/ }).waitFor({ timeout: 10_000 });

    // Right after registering from the earliest event, the three events waited in its queue.
    await page.locator('#slider').fill(String(registered));
    await depth.locator('.v').filter({ hasText: /^3$/ }).waitFor({ timeout: 10_000 });
    expect(await depth.locator('.diff').textContent()).toBe('now 0 (−3)');
    expect(await page.locator('#status').textContent()).toBe(`at position ${registered}`);
    expect(await page.locator('#tail tbody tr').first().getAttribute('data-position')).toBe(
      String(registered),
    );
    await chromium.screenshot(page, 'dashboard-past');

    await page.locator('#live').click();
    await depth.locator('.v').filter({ hasText: /^0$/ }).waitFor({ timeout: 10_000 });
    expect(await depth.locator('.diff').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens the timeline of a failed-then-retried event from the tail, with both attempts', async () => {
    await using s = await served();
    const q = s.manager.queue<string>('flaky');
    const tries = new Map<string, number>();
    await q.subscribe(
      (e) => {
        const n = (tries.get(e.id) ?? 0) + 1;
        tries.set(e.id, n);
        if (n === 1) throw new Error('the first try fails on purpose');
        return 'ok';
      },
      { name: 'w', retry: { limit: 2, minBackoff: 20, maxBackoff: 20 } },
    );
    const event = await q.publish('retry me');
    expect(await q.waitForResult(event.id, { signal: AbortSignal.timeout(10_000) })).toMatchObject({
      status: 'ok',
    });
    const { page, errors } = await chromium.page();
    await page.goto(`${s.server.url}/`);
    await page
      .locator(`#tail tr[data-event="${event.id}"][data-type="event.published"] button`)
      .click({ timeout: 10_000 });
    const timeline = page.locator('#timeline');
    await timeline.locator('.attempt[data-attempt="2"]').waitFor({ timeout: 10_000 });
    const attempts: (string | null)[][] = [];
    for (const el of await timeline.locator('.attempt').all()) {
      attempts.push([await el.getAttribute('data-attempt'), await el.getAttribute('data-status')]);
    }
    expect(attempts).toEqual([
      ['1', 'failed'],
      ['2', 'ok'],
    ]);
    expect(await timeline.textContent()).toContain('the first try fails on purpose');
    await chromium.screenshot(page, 'dashboard-timeline');
    await page.keyboard.press('Escape');
    await timeline.waitFor({ state: 'hidden' });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('asks for the token of a server that needs one, then shows the queues and follows the feed with it', async () => {
    const token = 'page-test-token-1234';
    await using s = await served({ token });
    await s.manager.queue('orders').subscribe(() => 'ok', { name: 'ship' });
    const { page } = await chromium.page();
    await page.goto(`${s.server.url}/`);
    await page.locator('#auth').waitFor({ timeout: 10_000 });
    await page.locator('#token').fill('not-the-token');
    await page.locator('#auth button').click();
    await page.locator('#auth-error').filter({ hasText: 'does not match' }).waitFor({ timeout: 10_000 });
    await page.locator('#token').fill(token);
    await page.locator('#auth button').click();
    await page.locator(row('orders/ship')).waitFor({ timeout: 10_000 });
    await page.locator('#tail tr[data-type="subscriber.registered"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#auth').isHidden()).toBe(true);
    await page.close();
  });
});
