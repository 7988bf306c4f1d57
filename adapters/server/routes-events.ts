import type { FastifyInstance } from 'fastify';
import {
  AbortedError,
  TimeoutError,
  type EventFilters,
  type PageOptions,
  type PublishOptions,
  type QueueManager,
  type ResultFilters,
} from '../../index.js';
import {
  errors,
  eventParams,
  eventSearchQuery,
  pageOf,
  publishBody,
  queueParams,
  resultSearchQuery,
  time,
} from './schemas.js';

interface QueueParams {
  queue: string;
}
interface EventParams extends QueueParams {
  id: string;
}
type PublishBody = PublishOptions & { payload: unknown };

/** The longest a `GET …/result` may wait (ms): a client wanting longer asks again. */
export const MAX_WAIT_MS = 300_000;

/** Publish, events (search, get, batch, count) and results (search, by event, wait). */
export function eventRoutes(app: FastifyInstance, manager: QueueManager): void {
  const tags = ['events'];
  app.post<{ Params: QueueParams; Body: PublishBody }>(
    '/queues/:queue/events',
    {
      schema: {
        tags,
        summary: 'publish an event (every publish option, key included)',
        params: queueParams,
        body: publishBody,
        response: { 201: { $ref: 'Event#' }, ...errors, 413: { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      const { payload, ...options } = req.body;
      const event = await manager.queue(req.params.queue).publish(payload, options);
      return reply.code(201).send(event);
    },
  );

  app.get<{ Params: QueueParams; Querystring: PageOptions & EventFilters }>(
    '/queues/:queue/events',
    {
      schema: {
        tags,
        summary: 'search events, oldest first',
        params: queueParams,
        querystring: eventSearchQuery,
        response: { 200: pageOf('Event'), ...errors },
      },
    },
    (req) => manager.queue(req.params.queue).searchEvents(req.query),
  );

  app.get<{ Params: QueueParams; Querystring: EventFilters }>(
    '/queues/:queue/events-count',
    {
      schema: {
        tags,
        summary: 'count events',
        params: queueParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { publishedAfter: time, publishedBefore: time },
        },
        response: { 200: { type: 'object', properties: { count: { type: 'integer' } } }, ...errors },
      },
    },
    async (req) => {
      const { publishedAfter, publishedBefore } = req.query as EventFilters & PageOptions;
      const filters = {
        ...(publishedAfter === undefined ? {} : { publishedAfter }),
        ...(publishedBefore === undefined ? {} : { publishedBefore }),
      };
      return { count: await manager.queue(req.params.queue).countEvents(filters) };
    },
  );

  app.post<{ Params: QueueParams; Body: { ids: string[] } }>(
    '/queues/:queue/events-batch',
    {
      schema: {
        tags,
        summary: 'get several events by id (null for an unknown id), in the order asked',
        params: queueParams,
        body: {
          type: 'object',
          required: ['ids'],
          additionalProperties: false,
          properties: { ids: { type: 'array', maxItems: 1000, items: { type: 'string' } } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: { anyOf: [{ $ref: 'Event#' }, { type: 'null' }] } },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => ({ items: await manager.queue(req.params.queue).batchGetEvents(req.body.ids) }),
  );

  app.get<{ Params: EventParams }>(
    '/queues/:queue/events/:id',
    {
      schema: {
        tags,
        summary: 'one event',
        params: eventParams,
        response: { 200: { $ref: 'Event#' }, ...errors },
      },
    },
    (req) => manager.queue(req.params.queue).getEvent(req.params.id),
  );

  app.get<{ Params: EventParams; Querystring: { includeRejected?: boolean } }>(
    '/queues/:queue/events/:id/results',
    {
      schema: {
        tags: ['results'],
        summary: "an event's results, in log order",
        params: eventParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { includeRejected: { type: 'boolean' } },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'Result#' } } } },
          ...errors,
        },
      },
    },
    async (req) => ({
      items: await manager.queue(req.params.queue).getResults(req.params.id, req.query),
    }),
  );

  app.get<{ Params: EventParams; Querystring: { timeout?: number; subscriber?: string } }>(
    '/queues/:queue/events/:id/result',
    {
      schema: {
        tags: ['results'],
        summary: "wait for an event's final result (504 timeout when it has none within `timeout` ms)",
        params: eventParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            timeout: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS, default: 30_000 },
            subscriber: { type: 'string' },
          },
        },
        response: { 200: { $ref: 'Result#' }, ...errors, 504: { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      const ms = req.query.timeout ?? 30_000;
      const controller = new AbortController();
      const timedOut = new TimeoutError(`no final result for event ${req.params.id} within ${ms} ms`, ms);
      const timer = setTimeout(() => controller.abort(timedOut), ms);
      // A client that goes away stops the wait.
      const gone = (): void => controller.abort();
      reply.raw.once('close', gone);
      try {
        const { subscriber } = req.query;
        return await manager.queue(req.params.queue).waitForResult(req.params.id, {
          signal: controller.signal,
          ...(subscriber === undefined ? {} : { subscriber }),
        });
      } catch (e) {
        if (e instanceof AbortedError && controller.signal.reason === timedOut) throw timedOut;
        throw e;
      } finally {
        clearTimeout(timer);
        reply.raw.off('close', gone);
      }
    },
  );

  app.get<{ Params: QueueParams; Querystring: PageOptions & ResultFilters }>(
    '/queues/:queue/results',
    {
      schema: {
        tags: ['results'],
        summary: "search a queue's results, in log order",
        params: queueParams,
        querystring: resultSearchQuery,
        response: { 200: pageOf('Result'), ...errors },
      },
    },
    (req) => manager.queue(req.params.queue).searchResults(req.query),
  );
}
