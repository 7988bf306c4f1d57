import type { FastifyInstance } from 'fastify';
import {
  isKnownRecord,
  RECORD_TYPES,
  unbatched,
  type KnownRecord,
  type QueueManager,
  type RecordType,
} from '../../index.js';
import { recordJson } from './json.js';
import { REPLAY_VIEWS, ReplayCache, type ReplayView } from './replay-cache.js';
import { errors, eventParams, open } from './schemas.js';

const queuesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { queue: { type: 'array', items: { type: 'string' }, description: 'only these queues' } },
} as const;

/** The most records one `GET /records` returns. */
export const MAX_RECORDS = 10_000;
/** The most records a timeline lists: an event retried without end still answers. */
const MAX_TIMELINE = 1_000;

/** Views now (stats, workers, subscribers, overview), the raw records, replay and one event's timeline. */
export function viewRoutes(app: FastifyInstance, manager: QueueManager): void {
  const replays = new ReplayCache(manager.store);
  const tags = ['views'];
  const now = (queue?: readonly string[]) => manager.inspect({ queues: queue ?? [] });
  const withQueues = (summary: string) => ({
    schema: { tags, summary, querystring: queuesQuery, response: { 200: open, ...errors } },
  });
  type Q = { Querystring: { queue?: string[] } };

  app.get<Q>('/stats', withQueues('per-queue counts and throughput, now'), (req) => ({
    items: now(req.query.queue).stats,
  }));
  app.get<Q>('/workers', withQueues('workers known to the log, now'), (req) => ({
    items: now(req.query.queue).workers,
  }));
  app.get<Q>('/subscribers', withQueues('subscribers with their progress, now'), (req) => ({
    items: now(req.query.queue).subscribers,
  }));
  app.get<Q>('/overview', withQueues('every view now, with the head of the log'), async (req) => {
    const head = await manager.store.head();
    const { position, time, subscribers, workers, stats, claims } = now(req.query.queue);
    return { head, position, time, subscribers, workers, stats, claims: claims.length };
  });

  app.get<{ Querystring: { from?: number; limit?: number; type?: RecordType[] } }>(
    '/records',
    {
      schema: {
        tags,
        summary: 'records from a position, as JSON lines (application/x-ndjson)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_RECORDS, default: 1000 },
            type: { type: 'array', items: { type: 'string', enum: [...RECORD_TYPES] } },
          },
        },
      },
    },
    async (req, reply) => {
      const { from = 0, limit = 1000, type } = req.query;
      const types = type && type.length > 0 ? new Set<string>(type) : undefined;
      const head = await manager.store.head();
      const lines: string[] = [];
      outer: for await (const chunk of manager.store.readChunks({ from, to: head })) {
        for (const r of chunk) {
          if (!isKnownRecord(r) || (types && !types.has(r.type))) continue;
          lines.push(recordJson(r));
          if (lines.length >= limit) break outer;
        }
      }
      return reply.type('application/x-ndjson').send(lines.length ? `${lines.join('\n')}\n` : '');
    },
  );

  app.get<{ Querystring: { to?: string; view?: ReplayView[]; queue?: string[] } }>(
    '/replay',
    {
      schema: {
        tags,
        summary: 'views folded up to a position or an ISO time (default: the head)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            to: {
              type: 'string',
              description: 'a position, or an ISO time (the last record at or before it)',
            },
            view: { type: 'array', items: { type: 'string', enum: [...REPLAY_VIEWS] } },
            queue: { type: 'array', items: { type: 'string' } },
          },
        },
        response: { 200: open, ...errors },
      },
    },
    async (req) => {
      const { to, head } =
        req.query.to === undefined
          ? await manager.store.head().then((h) => ({ to: h - 1, head: h }))
          : await replays.resolve(req.query.to);
      const views = req.query.view && req.query.view.length > 0 ? req.query.view : REPLAY_VIEWS;
      return { head, ...(await replays.fold(to, views, req.query.queue ?? [])) };
    },
  );

  app.get<{ Params: { queue: string; id: string } }>(
    '/queues/:queue/events/:id/timeline',
    {
      schema: {
        tags: ['events'],
        summary: "one event's life: its record, every claim and result about it, the events it caused",
        params: eventParams,
      },
    },
    async (req, reply) => {
      const event = await manager.queue(req.params.queue).getEvent(req.params.id);
      const head = await manager.store.head();
      const records: KnownRecord[] = [];
      const children: KnownRecord[] = [];
      for await (const chunk of manager.store.readChunks({ from: event.position, to: head })) {
        for (const r of chunk) {
          if (!isKnownRecord(r)) continue;
          if (r.type === 'event.published') {
            if (r.position === event.position) records.push(r);
            else if (r.headers.causationId === event.id) children.push(r);
            continue;
          }
          for (const one of unbatched(r) as KnownRecord[]) {
            if ('eventId' in one && one.eventId === event.id) records.push(one);
          }
        }
        if (records.length >= MAX_TIMELINE) break;
      }
      const body = `{"event":${recordJson(event)},"records":[${records.map(recordJson).join(',')}],"children":[${children.map(recordJson).join(',')}]}`;
      return reply.type('application/json').send(body);
    },
  );
}
