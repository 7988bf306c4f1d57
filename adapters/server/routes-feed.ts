import type { FastifyInstance, FastifyReply } from 'fastify';
import { RECORD_TYPES, type Position } from '../../index.js';
import { FeedHub, type FeedBatch, type FeedFilter, type FeedSink } from './feed-hub.js';
import { recordsJson } from './json.js';

interface FeedQuery {
  from?: number;
  queue?: string;
  type?: string[];
  subscriber?: string;
}

const feedQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'integer', minimum: 0, description: 'first position to send; default: what comes next' },
    queue: { type: 'string' },
    type: { type: 'array', items: { type: 'string', enum: [...RECORD_TYPES] } },
    subscriber: { type: 'string', description: 'a subscriber id (queue/name)' },
    access_token: { type: 'string', description: 'the token, for clients that cannot set a header' },
  },
} as const;

/** What the feed uses of a WebSocket. */
interface FeedSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  readonly OPEN: number;
  send(data: string): void;
  send(data: Buffer, options: { binary: boolean }): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** A WebSocket close code of our own (4000–4999): the client read too slowly. */
export const LAGGING_CLOSE = 4008;

/**
 * How long a client told `lagging` has to read what is still buffered for it before its connection is
 * cut: one that stopped reading altogether holds the server's memory no longer than this.
 */
const LAGGING_GRACE_MS = 2_000;

function filterOf(q: FeedQuery): FeedFilter {
  return {
    ...(q.queue === undefined ? {} : { queue: q.queue }),
    ...(q.subscriber === undefined ? {} : { subscriber: q.subscriber }),
    ...(q.type && q.type.length > 0 ? { types: new Set(q.type) } : {}),
  };
}

/**
 * `GET /feed` (WebSocket) and `GET /feed/sse` (Server-Sent Events): records from a position, filtered,
 * each carrying its position. WebSocket messages are `{type:'records', next, records}` (`next`: where to
 * resume) and `{type:'lagging', next}` before a close for a client too slow; SSE events carry the
 * position as their id, so `Last-Event-ID` resumes.
 */
export function feedRoutes(app: FastifyInstance, hub: FeedHub, maxBuffer: number): void {
  app.get<{ Querystring: FeedQuery }>(
    '/feed',
    {
      websocket: true,
      schema: { tags: ['feed'], summary: 'the live feed over WebSocket', querystring: feedQuery },
    },
    (socket, req) => {
      const sink = wsSink(socket, req.query.from ?? hub.position + 1, filterOf(req.query), maxBuffer);
      socket.on('close', () => hub.detach(sink));
      socket.on('error', () => socket.terminate());
      socket.send(JSON.stringify({ type: 'hello', from: sink.next, head: hub.position + 1 }));
      hub.attach(sink).catch(() => socket.close(1011, 'feed failed'));
    },
  );

  app.get<{ Querystring: FeedQuery }>(
    '/feed/sse',
    {
      schema: {
        tags: ['feed'],
        summary: 'the live feed as Server-Sent Events (id: position; resumes from Last-Event-ID)',
        querystring: feedQuery,
      },
    },
    (req, reply) => {
      const lastId = req.headers['last-event-id'];
      const resume = typeof lastId === 'string' && /^\d{1,16}$/.test(lastId) ? Number(lastId) + 1 : undefined;
      // A reconnecting EventSource sends the URL it first opened, `from` included: Last-Event-ID wins.
      const from = resume ?? req.query.from ?? hub.position + 1;
      const sink = sseSink(reply, from, filterOf(req.query), maxBuffer);
      reply.raw.on('close', () => hub.detach(sink));
      hub.attach(sink).catch(() => reply.raw.end());
    },
  );
}

/** The batch as one WebSocket message, encoded once for every client it goes to. */
function wsMessage(batch: FeedBatch): Buffer {
  return batch.memo('ws', () =>
    Buffer.from(
      `{"type":"records","next":${batch.next},"records":${recordsJson(batch.records, batch.json as (v: unknown) => string)}}`,
    ),
  );
}

function sseText(batch: FeedBatch): Buffer {
  return batch.memo('sse', () =>
    Buffer.from(batch.records.map((r) => `id: ${r.position}\ndata: ${batch.json(r)}\n\n`).join('')),
  );
}

function wsSink(socket: FeedSocket, from: Position, filter: FeedFilter, maxBuffer: number): FeedSink {
  return {
    next: from,
    filter,
    get closed() {
      return socket.readyState !== socket.OPEN;
    },
    send(batch) {
      if (socket.bufferedAmount > maxBuffer) return false;
      if (batch.records.length === 0) return true;
      // A text frame (JSON), though handed over as bytes: encoded once for every client.
      socket.send(wsMessage(batch), { binary: false });
      return true;
    },
    lagging(next) {
      if (socket.readyState !== socket.OPEN) return;
      socket.send(JSON.stringify({ type: 'lagging', next }));
      socket.close(LAGGING_CLOSE, 'lagging');
      setTimeout(() => socket.terminate(), LAGGING_GRACE_MS).unref();
    },
    end() {
      if (socket.readyState === socket.OPEN) socket.close(1001, 'server closing');
    },
    drained: () =>
      waitUntil(() => socket.bufferedAmount <= maxBuffer / 2 || socket.readyState !== socket.OPEN),
  };
}

function sseSink(reply: FastifyReply, from: Position, filter: FeedFilter, maxBuffer: number): FeedSink {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write(': eventy feed\n\n');
  return {
    next: from,
    filter,
    get closed() {
      return res.destroyed || res.writableEnded;
    },
    send(batch) {
      if (res.writableLength > maxBuffer) return false;
      if (batch.records.length === 0) return true;
      res.write(sseText(batch));
      return true;
    },
    lagging(next) {
      if (res.writableEnded) return;
      res.end(`event: lagging\ndata: {"next":${next}}\n\n`);
      setTimeout(() => res.destroy(), LAGGING_GRACE_MS).unref();
    },
    end() {
      if (!res.writableEnded) res.end();
    },
    drained: () => waitUntil(() => res.writableLength <= maxBuffer / 2 || res.destroyed),
  };
}

/** Resolves once `ready()` holds, checking every few ms: a catching-up client's own pace. */
function waitUntil(ready: () => boolean): Promise<void> {
  if (ready()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!ready()) return;
      clearInterval(timer);
      resolve();
    }, 5);
  });
}
