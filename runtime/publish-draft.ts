import { InvalidArgumentError, ValidationFailedError } from '../engine/errors.js';
import type { EventHeaders, RecordOf } from '../engine/records.js';
import type { PublishOptions, StandardSchemaV1 } from './types.js';

/** An `event.published` draft without its id and payload, from checked publish options. */
export function publishDraft(
  queue: string,
  o: PublishOptions,
): Omit<RecordOf<'event.published'>, 'eventId' | 'payload' | 'v' | 'position' | 'time'> {
  const headers: Record<string, string> = {};
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object') throw new InvalidArgumentError('headers must be an object of strings');
    for (const [k, v] of Object.entries(o.headers)) {
      if (typeof v !== 'string')
        throw new InvalidArgumentError(`header "${k}" must be a string, got: ${JSON.stringify(v)}`);
      headers[k] = v;
    }
  }
  for (const k of ['correlationId', 'causationId', 'key'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '')
      throw new InvalidArgumentError(`${k} must be a non-empty string, got: ${JSON.stringify(v)}`);
    headers[k] = v;
  }
  const draft: {
    type: 'event.published';
    queue: string;
    headers: EventHeaders;
    delay?: number;
    availableAt?: number;
    priority?: number;
    keyTtl?: number;
  } = {
    type: 'event.published',
    queue,
    headers,
  };
  if (o.delay !== undefined) {
    if (typeof o.delay !== 'number' || !Number.isFinite(o.delay) || o.delay < 0) {
      throw new InvalidArgumentError(`delay must be a number of ms ≥ 0, got: ${JSON.stringify(o.delay)}`);
    }
    if (o.delay > 0) draft.delay = o.delay;
  }
  if (o.keyTtl !== undefined) {
    if (o.key === undefined) throw new InvalidArgumentError('keyTtl needs a key');
    if (!Number.isSafeInteger(o.keyTtl) || o.keyTtl < 1) {
      throw new InvalidArgumentError(
        `keyTtl must be a whole number of ms ≥ 1, got: ${JSON.stringify(o.keyTtl)}`,
      );
    }
    draft.keyTtl = o.keyTtl;
  }
  if (o.priority !== undefined) {
    if (!Number.isSafeInteger(o.priority) || Math.abs(o.priority) > 1_000_000) {
      throw new InvalidArgumentError(
        `priority must be a whole number from -1000000 to 1000000 (higher first, default 0), got: ${JSON.stringify(o.priority)}`,
      );
    }
    if (o.priority !== 0) draft.priority = o.priority;
  }
  if (o.at !== undefined) {
    const at = o.at instanceof Date ? o.at.getTime() : o.at;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new InvalidArgumentError(`at must be a Date or ms since the epoch, got: ${JSON.stringify(o.at)}`);
    }
    draft.availableAt = at;
  }
  return draft;
}

/** The payload as the queue's schema outputs it. */
export async function validatePayload<T>(
  schema: StandardSchemaV1<unknown, T> | undefined,
  queue: string,
  payload: T,
): Promise<T> {
  if (!schema) return payload;
  const result = await schema['~standard'].validate(payload);
  if (result.issues) {
    const issues = result.issues.map((i) => ({
      message: i.message,
      path: i.path?.map((p) => (typeof p === 'object' ? p.key : p)),
    }));
    throw new ValidationFailedError(
      `payload for queue "${queue}" failed its schema: ${issues.map((i) => `${i.path?.join('.') ?? ''} ${i.message}`.trim()).join('; ')}`,
      issues,
    );
  }
  return result.value;
}
