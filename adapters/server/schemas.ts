/**
 * Request and response schemas, declared once: fastify validates requests and serialises responses with
 * them, and @fastify/swagger publishes them as the OpenAPI document at `/openapi.json`.
 */

const any = {} as const;
const open = { type: 'object', additionalProperties: true } as const;
const position = { type: 'integer', minimum: 0 } as const;
export const time = { type: 'number', description: 'ms since the epoch (log time)' } as const;

/** Shared schemas, added to the app by id and referenced as `{ $ref: 'Name#' }`. */
export const SHARED = [
  {
    $id: 'Error',
    type: 'object',
    required: ['code', 'message'],
    properties: {
      code: { type: 'string', description: 'an Eventy error code, or too-large, unauthorized, forbidden' },
      message: { type: 'string' },
      issues: { type: 'array', items: open },
    },
  },
  {
    $id: 'Event',
    type: 'object',
    required: ['id', 'position', 'queue', 'payload', 'publishedAt', 'headers', 'availableAt'],
    properties: {
      id: { type: 'string' },
      position,
      queue: { type: 'string' },
      payload: any,
      publishedAt: time,
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      availableAt: time,
    },
  },
  {
    $id: 'Result',
    type: 'object',
    properties: {
      position,
      item: { type: 'integer' },
      eventId: { type: 'string' },
      eventPosition: position,
      queue: { type: 'string' },
      subscriber: { type: 'string' },
      workerId: { type: 'string' },
      attempt: { type: 'integer' },
      status: { type: 'string', enum: ['ok', 'failed', 'timeout', 'skipped'] },
      details: any,
      error: open,
      retryAt: time,
      durationMs: { type: 'number' },
      recordedAt: time,
      accepted: { type: 'boolean' },
    },
  },
  {
    $id: 'Claim',
    type: 'object',
    properties: {
      claimId: { type: 'string' },
      queue: { type: 'string' },
      workerId: { type: 'string' },
      data: any,
      createdAt: time,
      position,
    },
  },
] as const;

/** `{ items, nextPageId }` of items matching `ref`. */
export function pageOf(ref: string): object {
  return {
    type: 'object',
    properties: {
      items: { type: 'array', items: ref === 'open' ? open : { $ref: `${ref}#` } },
      nextPageId: { type: ['string', 'null'] },
    },
  };
}

export const queueParams = {
  type: 'object',
  required: ['queue'],
  properties: { queue: { type: 'string', minLength: 1 } },
} as const;

export const eventParams = {
  type: 'object',
  required: ['queue', 'id'],
  properties: { queue: { type: 'string', minLength: 1 }, id: { type: 'string', minLength: 1 } },
} as const;

const pageQuery = {
  pageId: { type: 'string' },
  limit: { type: 'integer', minimum: 1, maximum: 100 },
} as const;

export const eventSearchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { ...pageQuery, publishedAfter: time, publishedBefore: time },
} as const;

export const resultSearchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...pageQuery,
    eventId: { type: 'string' },
    workerId: { type: 'string' },
    subscriber: { type: 'string' },
    status: { type: 'string', enum: ['ok', 'failed', 'timeout', 'skipped'] },
    recordedAfter: time,
    recordedBefore: time,
    includeRejected: { type: 'boolean' },
  },
} as const;

export const publishBody = {
  type: 'object',
  required: ['payload'],
  additionalProperties: false,
  properties: {
    payload: any,
    key: { type: 'string', minLength: 1, description: 'idempotency key: a second publish returns the first' },
    correlationId: { type: 'string' },
    causationId: { type: 'string' },
    delay: { type: 'number', minimum: 0, description: 'hold the event this many ms' },
    at: { type: 'number', description: 'hold the event until this time (ms since the epoch)' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

export const pageQueryOnly = { type: 'object', additionalProperties: false, properties: pageQuery } as const;

export const claimSearchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { ...pageQuery, workerId: { type: 'string' } },
} as const;

/** Error responses every route may give. */
export const errors = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
} as const;

export { open, position };
