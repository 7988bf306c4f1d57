import { checkName } from './names.js';
import { InvalidArgumentError } from '../engine/errors.js';
import { isPosition, type Position } from '../engine/position.js';
import type { Delivery, FilterSpec, RateLimit, RetryPolicy } from '../engine/records.js';
import { checkHooks, type Hooks } from './hooks.js';
import type { FilterPredicate, RetryOn, SubscribeOptions } from './types.js';

const KNOWN = new Set([
  'name',
  'filter',
  'operator',
  'delivery',
  'concurrency',
  'prefetch',
  'reserve',
  'timeout',
  'retry',
  'from',
  'hooks',
  'rateLimit',
]);
const RETRY_KNOWN = new Set(['limit', 'minBackoff', 'maxBackoff', 'retryOn']);

/** Subscribe options checked and filled with defaults. */
export interface ResolvedSubscribe {
  readonly name: string;
  readonly filter: FilterSpec | undefined;
  /** The filter's predicates (its `predicates` names them). */
  readonly predicates: readonly FilterPredicate[];
  readonly delivery: Delivery;
  readonly concurrency: number;
  /** Claimed ahead of free slots; with {@link prefetchAuto}, the least (see claim-ahead.ts). */
  readonly prefetch: number;
  /** `prefetch` was not given: the worker claims ahead as its rate and its claims' trip need. */
  readonly prefetchAuto: boolean;
  readonly reserve: boolean;
  readonly timeout: number;
  readonly retry: RetryPolicy;
  readonly retryOn: RetryOn | undefined;
  readonly from: 'new' | 'earliest' | Position;
  readonly hooks: readonly Hooks[];
  readonly rateLimit: RateLimit | undefined;
}

/** @throws InvalidArgumentError naming the bad option. */
export function resolveSubscribe(options: SubscribeOptions, fallbackName: string): ResolvedSubscribe {
  unknownKeys('subscribe option', options, KNOWN);
  const name = options.name ?? fallbackName;
  if (name === 'anonymous') {
    throw new InvalidArgumentError(
      `subscriber name must be a non-empty string (give options.name), got: ${JSON.stringify(name)}`,
    );
  }
  checkName('subscriber', name);
  // Options come from JavaScript callers too: check the values, not just the types.
  const delivery = (options.delivery ?? 'competing') as unknown;
  if (delivery !== 'competing' && delivery !== 'broadcast') {
    throw new InvalidArgumentError(
      `delivery must be "competing" or "broadcast", got: ${JSON.stringify(delivery)}`,
    );
  }
  const operator = (options.operator ?? 'all') as unknown;
  if (operator !== 'all' && operator !== 'any') {
    throw new InvalidArgumentError(`operator must be "all" or "any", got: ${JSON.stringify(operator)}`);
  }
  const parts: readonly unknown[] =
    options.filter === undefined ? [] : Array.isArray(options.filter) ? options.filter : [options.filter];
  const expressions = parts.filter((e): e is string => typeof e === 'string' && e !== '');
  const predicates = parts.filter((e): e is FilterPredicate => typeof e === 'function');
  if (expressions.length + predicates.length !== parts.length) {
    throw new InvalidArgumentError(
      `filter must be a JMESPath string, a predicate function or an array of them, got: ${describe(options.filter)}`,
    );
  }
  const from = options.from ?? 'new';
  if (from !== 'new' && from !== 'earliest' && !isPosition(from)) {
    throw new InvalidArgumentError(
      `from must be "new", "earliest" or a position, got: ${JSON.stringify(from)}`,
    );
  }
  const reserve = (options.reserve ?? true) as unknown;
  if (typeof reserve !== 'boolean') {
    throw new InvalidArgumentError(`reserve must be true or false, got: ${JSON.stringify(reserve)}`);
  }
  const { policy, retryOn } = resolveRetry(options.retry ?? {});
  const rateLimit = resolveRateLimit(options.rateLimit, delivery);
  return {
    name,
    filter: parts.length > 0 ? filterSpec(expressions, operator, predicates) : undefined,
    predicates,
    delivery,
    concurrency: integer('concurrency', options.concurrency ?? 10, 1),
    prefetch: integer('prefetch', options.prefetch ?? options.concurrency ?? 10, 0),
    prefetchAuto: options.prefetch === undefined,
    // A reservation binds new events as they are appended, past any rate limit: not with one.
    reserve: reserve && rateLimit === undefined,
    timeout: integer('timeout', options.timeout ?? 0, 0),
    retry: policy,
    retryOn,
    from,
    hooks: (Array.isArray(options.hooks) ? options.hooks : [options.hooks]).flatMap(
      (h: unknown) => checkHooks(h, 'subscription') ?? [],
    ),
    rateLimit,
  };
}

function resolveRateLimit(value: unknown, delivery: Delivery): RateLimit | undefined {
  if (value === undefined) return undefined;
  if (delivery !== 'competing') {
    throw new InvalidArgumentError(
      'rateLimit applies to competing subscribers only (got delivery "broadcast")',
    );
  }
  const o = value as { max?: unknown; perMs?: unknown };
  if (typeof value !== 'object' || value === null) {
    throw new InvalidArgumentError(`rateLimit must be { max, perMs }, got: ${JSON.stringify(value)}`);
  }
  unknownKeys('rateLimit option', o, new Set(['max', 'perMs']));
  return {
    max: integer('rateLimit.max', o.max, 1),
    perMs: integer('rateLimit.perMs', o.perMs, 1),
  };
}

/** The filter as registered: predicates by name (they stay in the process). */
function filterSpec(
  expressions: readonly string[],
  operator: 'all' | 'any',
  predicates: readonly FilterPredicate[],
): FilterSpec {
  if (predicates.length === 0) return { expressions, operator };
  return { expressions, operator, predicates: predicates.map((p) => p.name || '(anonymous)') };
}

function describe(value: unknown): string {
  return typeof value === 'function' ? 'a function' : JSON.stringify(value);
}

function resolveRetry(retry: NonNullable<SubscribeOptions['retry']>): {
  policy: RetryPolicy;
  retryOn: RetryOn | undefined;
} {
  unknownKeys('retry option', retry, RETRY_KNOWN);
  const minBackoff = integer('retry.minBackoff', retry.minBackoff ?? 1000, 0);
  const maxBackoff = integer('retry.maxBackoff', retry.maxBackoff ?? 60_000, 0);
  if (maxBackoff < minBackoff) {
    throw new InvalidArgumentError(
      `retry.maxBackoff (${maxBackoff}) must be ≥ retry.minBackoff (${minBackoff})`,
    );
  }
  const retryOn = retry.retryOn;
  if (retryOn !== undefined && typeof retryOn !== 'function' && !Array.isArray(retryOn)) {
    throw new InvalidArgumentError('retry.retryOn must be an array of error classes or a predicate function');
  }
  const names = Array.isArray(retryOn) ? retryOn.map((c: { name: string }) => c.name) : undefined;
  const policy: RetryPolicy = {
    limit: integer('retry.limit', retry.limit ?? 0, 0),
    minBackoff,
    maxBackoff,
    ...(names ? { retryOn: names } : {}),
  };
  return { policy, retryOn };
}

/** Whether a failure may be retried under the policy (limit checked by the caller). */
export function mayRetry(retryOn: RetryOn | undefined, error: unknown): boolean {
  if (retryOn === undefined) return true;
  if (typeof retryOn === 'function') {
    try {
      const verdict: unknown = retryOn(error);
      return Boolean(verdict);
    } catch {
      return false;
    }
  }
  return (retryOn as readonly (abstract new (...args: never[]) => Error)[]).some(
    (cls) => error instanceof cls,
  );
}

/** `min(maxBackoff, minBackoff·2^(failures-1))`, with full jitter over its upper half. */
export function backoff(policy: RetryPolicy, failures: number, random = Math.random): number {
  const base = Math.min(policy.maxBackoff, policy.minBackoff * 2 ** Math.max(0, failures - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got: ${JSON.stringify(value)}`);
  }
  return value;
}

export function unknownKeys(what: string, options: unknown, known: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`${what}s must be an object`);
  for (const key of Object.keys(options)) {
    if (!known.has(key))
      throw new InvalidArgumentError(`unknown ${what} "${key}"; expected one of: ${[...known].join(', ')}`);
  }
}
