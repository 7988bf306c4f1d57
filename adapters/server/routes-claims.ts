import type { FastifyInstance } from 'fastify';
import { NotFoundError, type PageOptions, type QueueManager } from '../../index.js';
import { claimSearchQuery, errors, pageOf, pageQueryOnly, queueParams } from './schemas.js';

interface QueueParams {
  queue: string;
}

const claimParams = {
  type: 'object',
  required: ['queue', 'claimId'],
  properties: { queue: { type: 'string', minLength: 1 }, claimId: { type: 'string', minLength: 1 } },
} as const;

const subscriptionParams = {
  type: 'object',
  required: ['queue', 'name'],
  properties: { queue: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 } },
} as const;

/** Raw claims (create, get, search) and subscriptions (search, delete). */
export function claimRoutes(app: FastifyInstance, manager: QueueManager): void {
  app.post<{ Params: QueueParams; Body: { claimId: string; data?: unknown } }>(
    '/queues/:queue/claims',
    {
      schema: {
        tags: ['claims'],
        summary: 'take a raw claim: 201 for the first caller ever, 409 conflict after',
        params: queueParams,
        body: {
          type: 'object',
          required: ['claimId'],
          additionalProperties: false,
          properties: { claimId: { type: 'string', minLength: 1 }, data: {} },
        },
        response: {
          201: { type: 'object', properties: { claimed: { type: 'boolean' } } },
          409: { $ref: 'Error#' },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const { claimId, data } = req.body;
      const claimed = await manager.queue(req.params.queue).createClaim(claimId, data);
      if (claimed) return reply.code(201).send({ claimed });
      return reply.code(409).send({ code: 'conflict', message: `claim ${claimId} was taken before` });
    },
  );

  app.get<{ Params: QueueParams & { claimId: string } }>(
    '/queues/:queue/claims/:claimId',
    {
      schema: {
        tags: ['claims'],
        summary: 'one raw claim',
        params: claimParams,
        response: { 200: { $ref: 'Claim#' }, ...errors },
      },
    },
    (req) => manager.queue(req.params.queue).getClaim(req.params.claimId),
  );

  app.get<{ Params: QueueParams; Querystring: PageOptions & { workerId?: string } }>(
    '/queues/:queue/claims',
    {
      schema: {
        tags: ['claims'],
        summary: 'search raw claims',
        params: queueParams,
        querystring: claimSearchQuery,
        response: { 200: pageOf('Claim'), ...errors },
      },
    },
    (req) => manager.queue(req.params.queue).searchClaims(req.query),
  );

  app.get<{ Params: QueueParams; Querystring: PageOptions }>(
    '/queues/:queue/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        summary: "a queue's live subscribers with their progress",
        params: queueParams,
        querystring: pageQueryOnly,
        response: { 200: pageOf('open'), ...errors },
      },
    },
    (req) => manager.queue(req.params.queue).searchSubscriptions(req.query),
  );

  app.delete<{ Params: QueueParams & { name: string } }>(
    '/queues/:queue/subscriptions/:name',
    {
      schema: {
        tags: ['subscriptions'],
        summary: 'delete a subscriber: workers stop handing it events (204; 404 when there is none)',
        params: subscriptionParams,
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (req, reply) => {
      const { queue, name } = req.params;
      await manager.ready();
      const live = manager
        .inspect({ queues: [queue] })
        .subscribers.find((s) => s.name === name && !s.deleted);
      if (!live) throw new NotFoundError('subscriber', `${queue}/${name}`);
      // The log is the API: deleting is appending the record every worker folds.
      await manager.store.append([{ type: 'subscriber.deleted', queue, subscriberId: live.subscriberId }]);
      return reply.code(204).send();
    },
  );
}
