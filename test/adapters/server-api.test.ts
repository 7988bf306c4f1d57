import { describe, expect, it } from 'vitest';
import type { StandardSchemaV1 } from '../../index.js';
import { served } from '../support/server.js';

interface Ev {
  id: string;
  position: number;
  headers: Record<string, string>;
  availableAt: number;
  publishedAt: number;
  payload: unknown;
}
interface PageOf<T> {
  items: T[];
  nextPageId: string | null;
}

/** A Standard Schema accepting `{ total: number }` only. */
const orderSchema: StandardSchemaV1<{ total: number }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (v) =>
      typeof v === 'object' && v !== null && typeof (v as { total?: unknown }).total === 'number'
        ? { value: v as { total: number } }
        : { issues: [{ message: 'total must be a number', path: ['total'] }] },
  },
};

describe('eventy serve: REST over real HTTP', () => {
  it('publishes with every option, key included, and reads events back (get, batch, search, count)', async () => {
    await using s = await served();
    const body = {
      payload: { id: 7 },
      key: 'order-7',
      correlationId: 'c-1',
      causationId: 'x-0',
      delay: 60_000,
      headers: { tenant: 'acme' },
    };
    const first = await s.call('/queues/orders/events', { body });
    expect(first.status).toBe(201);
    const ev = (await first.json()) as Ev;
    expect(ev.headers).toEqual({ key: 'order-7', correlationId: 'c-1', causationId: 'x-0', tenant: 'acme' });
    expect(ev.availableAt - ev.publishedAt).toBe(60_000);
    const again = (await (await s.call('/queues/orders/events', { body })).json()) as Ev;
    expect(again.id).toBe(ev.id);
    const at = Date.now() + 3_600_000;
    const held = (await (await s.call('/queues/orders/events', { body: { payload: 2, at } })).json()) as Ev;
    expect(held.availableAt).toBe(at);
    for (let i = 0; i < 3; i++) await s.call('/queues/orders/events', { body: { payload: i } });

    expect((await s.json<Ev>(`/queues/orders/events/${ev.id}`)).payload).toEqual({ id: 7 });
    const batch = await s.call('/queues/orders/events-batch', { body: { ids: [held.id, 'nope', ev.id] } });
    const { items } = (await batch.json()) as { items: (Ev | null)[] };
    expect(items.map((e) => e?.id ?? null)).toEqual([held.id, null, ev.id]);
    const page1 = await s.json<PageOf<Ev>>('/queues/orders/events?limit=2');
    expect(page1.items.map((e) => e.id)).toEqual([ev.id, held.id]);
    const page2 = await s.json<PageOf<Ev>>(`/queues/orders/events?limit=2&pageId=${page1.nextPageId ?? ''}`);
    const page3 = await s.json<PageOf<Ev>>(`/queues/orders/events?limit=2&pageId=${page2.nextPageId ?? ''}`);
    expect(page2.items).toHaveLength(2);
    expect(page3).toMatchObject({ nextPageId: null });
    expect(page3.items).toHaveLength(1);
    expect(await s.json('/queues/orders/events-count')).toEqual({ count: 5 });
  });

  it('results: by event, search, and wait (with a timeout that answers 504)', async () => {
    await using s = await served();
    const q = s.manager.queue<{ n: number }>('jobs');
    await q.subscribe((e) => ({ double: e.payload.n * 2 }), { name: 'double' });
    const ev = (await (await s.call('/queues/jobs/events', { body: { payload: { n: 21 } } })).json()) as Ev;
    const res = await s.call(`/queues/jobs/events/${ev.id}/result?timeout=5000`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ eventId: ev.id, status: 'ok', details: { double: 42 } });
    const byEvent = await s.json<{ items: unknown[] }>(`/queues/jobs/events/${ev.id}/results`);
    expect(byEvent.items).toHaveLength(1);
    const search = await s.json<PageOf<{ eventId: string }>>(
      '/queues/jobs/results?status=ok&subscriber=double',
    );
    expect(search.items.map((r) => r.eventId)).toEqual([ev.id]);

    const idle = (await (await s.call('/queues/idle/events', { body: { payload: 1 } })).json()) as Ev;
    const waited = await s.call(`/queues/idle/events/${idle.id}/result?timeout=50`);
    expect(waited.status).toBe(504);
    expect(await waited.json()).toMatchObject({ code: 'timeout' });
    expect((await s.call('/queues/idle/events/no-such-event/result?timeout=50')).status).toBe(404);
  });

  it('claims (create 201 then 409, get, search) and subscriptions (search, delete 204 then 404)', async () => {
    await using s = await served();
    const take = () => s.call('/queues/locks/claims', { body: { claimId: 'nightly', data: { by: 'me' } } });
    expect((await take()).status).toBe(201);
    const second = await take();
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ code: 'conflict' });
    expect(await s.json('/queues/locks/claims/nightly')).toMatchObject({
      claimId: 'nightly',
      data: { by: 'me' },
    });
    expect((await s.json<PageOf<unknown>>('/queues/locks/claims')).items).toHaveLength(1);
    expect((await s.call('/queues/locks/claims/other')).status).toBe(404);

    await s.manager.queue('mail').subscribe(() => undefined, { name: 'send' });
    const subs = await s.json<PageOf<{ name: string }>>('/queues/mail/subscriptions');
    expect(subs.items.map((x) => x.name)).toEqual(['send']);
    expect((await s.call('/queues/mail/subscriptions/send', { method: 'DELETE' })).status).toBe(204);
    expect((await s.json<PageOf<unknown>>('/queues/mail/subscriptions')).items).toEqual([]);
    expect((await s.call('/queues/mail/subscriptions/send', { method: 'DELETE' })).status).toBe(404);
  });

  it('views now, the records as JSON lines, replay at a past position, and an event timeline', async () => {
    await using s = await served();
    const q = s.manager.queue('work');
    const events = [];
    for (let i = 0; i < 3; i++) events.push(await q.publish(i));
    const before = (await s.manager.store.head()) - 1;
    await q.subscribe(() => 'done', { name: 'w', from: 'earliest' });
    await q.waitForResult(events[2]!.id);
    const stats = await s.json<{ items: { queue: string; published: number; ok: number }[] }>('/stats');
    expect(stats.items).toEqual([expect.objectContaining({ queue: 'work', published: 3, ok: 3 })]);
    expect((await s.json<{ items: unknown[] }>('/workers')).items.length).toBeGreaterThan(0);

    const lines = await s.call('/records?from=0&type=event.published&limit=2');
    expect(lines.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const parsed = (await lines.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; position: number });
    expect(parsed.map((r) => [r.type, r.position])).toEqual([
      ['event.published', 0],
      ['event.published', 1],
    ]);
    expect((await s.call('/records?type=nope')).status).toBe(400);

    // Subscribed from the earliest event: right after registering, the three events wait in its queue.
    const registered = before + 1;
    const past = await s.json<{ position: number; subscribers: { depth: number; done: number }[] }>(
      `/replay?to=${registered}&view=subscribers`,
    );
    expect(past.position).toBe(registered);
    expect(past.subscribers).toEqual([expect.objectContaining({ depth: 3, done: 0 })]);
    const nowV = await s.json<{ subscribers: { depth: number; done: number }[] }>('/replay');
    expect(nowV.subscribers).toEqual([expect.objectContaining({ depth: 0, done: 3 })]);
    const byTime = await s.json<{ position: number }>(`/replay?to=${new Date(0).toISOString()}`);
    expect(byTime.position).toBe(-1);
    const late = await s.call('/replay?to=999999');
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ code: 'invalid-argument' });

    const tl = await s.json<{ event: Ev; records: { type: string }[] }>(
      `/queues/work/events/${events[0]!.id}/timeline`,
    );
    expect(tl.event.id).toBe(events[0]!.id);
    expect(tl.records.map((r) => r.type)).toContain('result.recorded');
  });

  it('errors are JSON { code, message } with their status: 400, 404, 413; payloads pass the queue schema', async () => {
    await using s = await served({ maxBody: 1024 });
    s.manager.queue('orders', { schema: orderSchema });
    const bad = await s.call('/queues/orders/events', { body: { payload: { total: 'x' } } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      code: 'validation-failed',
      issues: [{ message: 'total must be a number' }],
    });
    expect((await s.call('/queues/orders/events', { body: { payload: { total: 1 } } })).status).toBe(201);
    const unknown = await s.call('/queues/orders/events', { body: { payload: 1, priority: 3 } });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: 'invalid-argument' });
    const big = await s.call('/queues/other/events', { body: { payload: 'x'.repeat(2048) } });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'too-large' });
    const missing = await s.call('/no/such/route');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'not-found' });
    expect((await s.call('/queues/orders/events?limit=500')).status).toBe(400);
  });

  it('publishes an OpenAPI document of its routes', async () => {
    await using s = await served();
    const doc = await s.json<{ openapi: string; paths: Record<string, unknown> }>('/openapi.json');
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/queues/{queue}/events',
        '/queues/{queue}/events/{id}/result',
        '/replay',
        '/records',
      ]),
    );
  });
});

describe('eventy serve: security', () => {
  it('refuses a non-loopback host without a token', async () => {
    await expect(served({ host: '0.0.0.0' })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('with a token: 401 without one, 403 for a wrong one, the page files stay public', async () => {
    const token = 'a-long-enough-secret';
    await using s = await served({ token, host: '0.0.0.0' });
    expect((await s.call('/stats')).status).toBe(401);
    expect(await (await s.call('/stats')).json()).toMatchObject({ code: 'unauthorized' });
    expect((await s.call('/stats', { headers: { authorization: 'Bearer wrong-but-long' } })).status).toBe(
      403,
    );
    expect((await s.call('/stats', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await s.call(`/stats?access_token=${token}`)).status).toBe(200);
    expect((await s.call('/')).status).toBe(200);
    const doc = await (
      await s.call('/openapi.json', { headers: { authorization: `Bearer ${token}` } })
    ).text();
    expect(doc).not.toContain(token);
  });

  it('sends no CORS header unless an origin is allowed, and then only to that origin', async () => {
    {
      await using s = await served();
      const res = await s.call('/stats', { headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    await using s = await served({ cors: 'https://ops.example' });
    const ok = await s.call('/stats', { headers: { origin: 'https://ops.example' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    const other = await s.call('/stats', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves only the page files by name: no path reaches the file system', async () => {
    await using s = await served();
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/vendor/../../package.json',
      '/serve.ts',
    ]) {
      const res = await s.call(path);
      expect(res.status, path).toBe(404);
    }
    expect((await s.call('/vendor/uplot.js')).headers.get('content-type')).toMatch(/javascript/);
  });
});
