import { isEventyError, type ErrorCode } from '../../index.js';

/** The JSON body of every error response: `code` to branch on, `message` for people. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly unknown[];
}

/** HTTP status of each Eventy error code; the rest are 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  'invalid-argument': 400,
  'validation-failed': 400,
  'not-found': 404,
  conflict: 409,
  timeout: 504,
  unavailable: 503,
  closed: 503,
  'lock-unavailable': 503,
  aborted: 503,
};

/** Fastify's own error codes a client can cause, and the code they are reported under. */
const FASTIFY: Record<string, readonly [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too-large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported-media-type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid-argument'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid-argument'],
};

/** Maps anything a route threw to a status and an {@link ErrorBody}. */
export function toHttpError(e: unknown): { status: number; body: ErrorBody } {
  if (isEventyError(e)) {
    const issues = isEventyError(e, 'validation-failed') ? { issues: e.issues } : {};
    return { status: STATUS[e.code] ?? 500, body: { code: e.code, message: e.message, ...issues } };
  }
  const err = e as { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(e);
  if (err.validation !== undefined) return { status: 400, body: { code: 'invalid-argument', message } };
  const known = typeof err.code === 'string' ? FASTIFY[err.code] : undefined;
  if (known) return { status: known[0], body: { code: known[1], message } };
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, body: { code: 'invalid-argument', message } };
  }
  return { status: 500, body: { code: 'internal', message: 'internal error' } };
}
