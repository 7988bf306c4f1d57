// bench:serve's server process: `serve()` on a file log, and the same run's ceilings (a bare `ws` server
// sending the same records, a bare fastify route answering the same publish), driven over IPC by
// bench/serve.ts. Each request is `{ id, cmd, … }`; each answer `{ id, … }`.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from '../adapters/server/index.js';
import { createQueueManager, isKnownRecord } from '../index.js';

type Request =
  | { id: number; cmd: 'fill'; count: number }
  | { id: number; cmd: 'pace'; rate: number; ms: number }
  | { id: number; cmd: 'flood'; ms: number }
  | { id: number; cmd: 'raw' | 'bare' | 'rss' | 'exit' };

const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'eventy-bench-serve-'));
const manager = await createQueueManager({ store: `file:${join(dir, 'log')}`, handleSignals: false });
const server = await serve(manager, { port: 0 });
const queue = manager.queue('bench');
const pad = 'x'.repeat(100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function handle(req: Request): Promise<object> {
  switch (req.cmd) {
    case 'fill': {
      for (let i = 0; i < req.count; i += 1000) {
        const n = Math.min(1000, req.count - i);
        await queue.publishMany(Array.from({ length: n }, (_, k) => ({ i: i + k, pad })));
      }
      return { head: await manager.store.head() };
    }
    case 'pace': {
      // `rate` events/s, each carrying when it was published: the clients measure delivery from it.
      const start = Date.now();
      let sent = 0;
      while (Date.now() - start < req.ms) {
        const due = Math.floor(((Date.now() - start) * req.rate) / 1000) - sent;
        if (due > 0) {
          const sentAt = Date.now();
          await queue.publishMany(Array.from({ length: due }, () => ({ sentAt })));
          sent += due;
        }
        await sleep(2);
      }
      return { sent, head: await manager.store.head() };
    }
    case 'flood': {
      const start = Date.now();
      let sent = 0;
      while (Date.now() - start < req.ms) {
        await queue.publishMany(Array.from({ length: 1000 }, (_, k) => ({ i: sent + k, pad })));
        sent += 1000;
      }
      return { sent, head: await manager.store.head() };
    }
    case 'raw':
      return { port: await rawFeed() };
    case 'bare':
      return { port: await barePublish() };
    case 'rss':
      return { rss: process.memoryUsage().rss };
    case 'exit':
      await server.close();
      await manager.close();
      await rm(dir, { recursive: true, force: true });
      setImmediate(() => process.exit(0));
      return {};
  }
}

/**
 * The feed's ceiling: a bare `ws` server that sends the log's records, already read and serialised, in
 * messages of 2,048 as the feed does, waiting only for the socket to drain.
 */
async function rawFeed(): Promise<number> {
  const messages: string[] = [];
  const head = await manager.store.head();
  let batch: string[] = [];
  let next = 0;
  for await (const chunk of manager.store.readChunks({ from: 0, to: head })) {
    for (const r of chunk) {
      if (!isKnownRecord(r)) continue;
      batch.push(JSON.stringify(r));
      next = r.position + 1;
      if (batch.length === 2048) {
        messages.push(`{"type":"records","next":${next},"records":[${batch.join(',')}]}`);
        batch = [];
      }
    }
  }
  if (batch.length) messages.push(`{"type":"records","next":${next},"records":[${batch.join(',')}]}`);
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws: WebSocket) => {
    void (async () => {
      for (const m of messages) {
        while (ws.bufferedAmount > 4 * 1024 * 1024) await sleep(1);
        ws.send(m);
      }
    })();
  });
  await new Promise((r) => wss.once('listening', r));
  return (wss.address() as { port: number }).port;
}

/** Publish's ceiling: a bare fastify route taking the same body and answering 201 with an event. */
async function barePublish(): Promise<number> {
  const app = Fastify({ logger: false });
  app.post(
    '/queues/:queue/events',
    { schema: { body: { type: 'object', required: ['payload'], properties: { payload: {} } } } },
    (req, reply) => {
      const { queue: name } = req.params as { queue: string };
      const body = req.body as { payload: unknown };
      const t = Date.now();
      return reply.code(201).send({
        id: randomUUID(),
        queue: name,
        position: 0,
        headers: {},
        publishedAt: t,
        availableAt: t,
        payload: body.payload,
      });
    },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

process.on('message', (req: Request) => {
  handle(req).then(
    (answer) => process.send?.({ id: req.id, ...answer }),
    (e: unknown) => process.send?.({ id: req.id, error: String(e) }),
  );
});
process.send?.({ id: 0, url: server.url });
