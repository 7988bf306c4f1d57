import { EventyError, InvalidArgumentError, UnavailableError } from '../../engine/errors.js';

/** What went wrong in a connection the URL asked for: the server's answer, not a network failure. */
export type ConnectProblem = 'credentials' | 'database';

/**
 * The URL names a user, password or database the server refuses: a wrong argument (`invalid-argument`),
 * with `problem` to branch on.
 */
export class PostgresConnectError extends InvalidArgumentError {
  readonly problem: ConnectProblem;
  constructor(problem: ConnectProblem, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PostgresConnectError';
    this.problem = problem;
  }
}

// SQLSTATE classes and codes that mean "the server is not there for us now": nothing was done, or (for
// a statement cut off in flight) the outcome is unknown.
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58'];
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const NETWORK_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /query read timeout/i,
  /not queryable/i,
  /cannot use a pool after calling end/i,
  /client has encountered a connection error/i,
  /connection error/i,
];

/** True when `e` says the server cannot be reached or went away (as opposed to a refused request). */
export function isUnavailable(e: unknown): boolean {
  if (e instanceof UnavailableError) return true;
  if (e instanceof EventyError || !(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CLASSES.includes(code.slice(0, 2)) || code === '57014';
  }
  return NETWORK_MESSAGES.some((m) => m.test(e.message));
}

/**
 * A `pg` error as an Eventy error: wrong credentials and a missing database as
 * {@link PostgresConnectError}, an unreachable or departed server and a missed deadline as
 * `unavailable`; anything else (a bug, a refused statement) is returned as it is.
 */
export function storeError(e: unknown, what: string, url: string, user?: string): unknown {
  if (e instanceof EventyError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const reason = e instanceof Error ? e.message : String(e);
  if (code === '28P01' || code === '28000') {
    return new PostgresConnectError(
      'credentials',
      `${what} failed: the server at ${url} refused the credentials${user === undefined ? '' : ` of user ${JSON.stringify(user)}`} (${reason}); ` +
        'expected a user and password it accepts in the store URL',
      { cause: e },
    );
  }
  if (code === '3D000') {
    return new PostgresConnectError(
      'database',
      `${what} failed: ${reason} at ${url}; expected an existing database in the store URL (create it first, e.g. createdb)`,
      { cause: e },
    );
  }
  if (isUnavailable(e)) {
    return new UnavailableError(`${what} failed: PostgreSQL at ${url} is unavailable (${reason})`, {
      cause: e,
    });
  }
  return e;
}
