import type { RedisOptions } from 'ioredis';
import { maskUrl, storeUrlParams } from '../../engine/store-url.js';
import { checkRetention, parseRetention } from '../../engine/retention.js';
import type { RetentionPolicy } from '../../engine/storage.js';
import { InvalidArgumentError } from '../../engine/errors.js';

/** Options of {@link openRedisStore} and {@link fromRedis}. Each may also be given in the URL's query. */
export interface RedisStoreOptions {
  /** First part of every key of the log (`?prefix=` in the URL); default `eventy`. */
  readonly keyPrefix?: string;
  /** Name of the log (`?log=` in the URL); default `default`. It is the Redis Cluster hash tag. */
  readonly log?: string;
  /**
   * Records per segment stream (`?segmentRecords=` in the URL); default 65,536. Fixed when the log is
   * created: later opens use the stored value, and naming a different one raises `invalid-argument`.
   */
  readonly segmentRecords?: number;
  /**
   * Deadline (ms) for connecting, ready check and authentication included (`?connectTimeout=` in the
   * URL); default 10,000. Past it `openRedisStore` fails with `unavailable`. Only for the connection
   * the store creates (`fromRedis` keeps the client's own settings).
   */
  readonly connectTimeout?: number;
  /**
   * Deadline (ms) of every command on the store's connection (`?commandTimeout=` in the URL); default
   * 10,000. Past it the call fails with `unavailable` and nothing is acknowledged (an append that timed
   * out may still be applied once the server answers: retry with `expectedHead` to append at most once).
   * Followers' blocking reads wait as long as they must and are not bound by it.
   */
  readonly commandTimeout?: number;
  /**
   * What `compact` may remove once a snapshot covers it (`?retention=7d&retentionBytes=10GiB` in the
   * URL). Default: keep everything.
   */
  readonly retention?: RetentionPolicy;
}

/** Default of {@link RedisStoreOptions.connectTimeout} and {@link RedisStoreOptions.commandTimeout}. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Default records per segment stream: 2^16. */
export const DEFAULT_SEGMENT_RECORDS = 65_536;
/** The largest segment size accepted. */
export const MAX_SEGMENT_RECORDS = 2 ** 30;

/** What a store needs to know about its log, checked. */
export interface LogConfig {
  readonly keyPrefix: string;
  readonly log: string;
  readonly segmentRecords: number;
  /** True when the caller named the segment size (then it must match a stored one). */
  readonly segmentExplicit: boolean;
  readonly connectTimeout: number;
  readonly commandTimeout: number;
  /** What `compact` may remove (`?retention=7d&retentionBytes=10GiB`); undefined keeps everything. */
  readonly retention: RetentionPolicy | undefined;
}

/** A parsed `redis://` / `rediss://` URL. */
export interface ParsedRedisUrl {
  readonly redis: RedisOptions;
  readonly config: LogConfig;
  /** The URL with its password hidden, for `store.url` and messages. */
  readonly display: string;
}

const OPTION_NAMES = [
  'keyPrefix',
  'log',
  'segmentRecords',
  'connectTimeout',
  'commandTimeout',
  'retention',
] as const;
const QUERY_NAMES: Record<string, (typeof OPTION_NAMES)[number]> = {
  prefix: 'keyPrefix',
  log: 'log',
  segmentRecords: 'segmentRecords',
  connectTimeout: 'connectTimeout',
  commandTimeout: 'commandTimeout',
};
const NUMERIC = new Set(['segmentRecords', 'connectTimeout', 'commandTimeout']);
// Braces would break the Cluster hash tag; whitespace and control characters make keys unreadable.
const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Parses `redis://[user:pass@]host[:port][/db][?prefix=…&log=…&segmentRecords=…]` (or `rediss://` for
 * TLS). Options given in code win over the same ones in the query.
 * @throws InvalidArgumentError naming the bad part of the URL or the bad option.
 */
export function parseRedisUrl(url: string, options: RedisStoreOptions = {}): ParsedRedisUrl {
  const display = maskUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new InvalidArgumentError(`redis store URL is not a valid URL, got: ${display}`, { cause });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new InvalidArgumentError(`redis store URL must start with redis:// or rediss://, got: ${display}`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const redis: RedisOptions = {
    host,
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db: parseDb(parsed.pathname, display),
  };
  if (parsed.username !== '') redis.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') redis.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'rediss:') redis.tls = { servername: host };
  const fromQuery = queryOptions(storeUrlParams(parsed.searchParams, 'redis', display), display);
  return { redis, config: checkStoreOptions({ ...fromQuery, ...checkOptionsObject(options) }), display };
}

function parseDb(pathname: string, display: string): number {
  const text = pathname.replace(/^\//, '');
  if (text === '') return 0;
  if (!/^\d{1,5}$/.test(text)) {
    throw new InvalidArgumentError(
      `redis store URL path must be a database number like /0, got: ${JSON.stringify(pathname)} in ${display}`,
    );
  }
  return Number(text);
}

function queryOptions(params: URLSearchParams, display: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const retention = parseRetention({
    retention: params.get('retention') ?? undefined,
    retentionBytes: params.get('retentionBytes') ?? undefined,
  });
  if (retention !== undefined) out.retention = retention;
  for (const [name, value] of params) {
    if (name === 'retention' || name === 'retentionBytes') continue;
    const option = QUERY_NAMES[name];
    if (option === undefined) {
      throw new InvalidArgumentError(
        `unknown redis store URL parameter ${JSON.stringify(name)} in ${display}: expected ${[...Object.keys(QUERY_NAMES), 'retention', 'retentionBytes'].join(', ')}`,
      );
    }
    out[option] = NUMERIC.has(option) && /^\d{1,10}$/.test(value) ? Number(value) : value;
  }
  return out;
}

function checkOptionsObject(options: unknown): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`redis store options must be an object, got: ${String(options)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `unknown redis store option ${JSON.stringify(name)}: expected ${OPTION_NAMES.join(', ')}`,
      );
    }
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Checks {@link RedisStoreOptions} given in code and fills in the defaults.
 * @throws InvalidArgumentError on an unknown option or a wrong value, naming it and the value.
 */
export function checkStoreOptions(options: unknown): LogConfig {
  const o = checkOptionsObject(options);
  const keyPrefix = checkName('keyPrefix', o.keyPrefix ?? 'eventy');
  const log = checkName('log', o.log ?? 'default');
  const seg = o.segmentRecords ?? DEFAULT_SEGMENT_RECORDS;
  if (typeof seg !== 'number' || !Number.isSafeInteger(seg) || seg < 1 || seg > MAX_SEGMENT_RECORDS) {
    throw new InvalidArgumentError(
      `segmentRecords must be an integer from 1 to ${MAX_SEGMENT_RECORDS}, got: ${JSON.stringify(seg)}`,
    );
  }
  return {
    keyPrefix,
    log,
    segmentRecords: seg,
    segmentExplicit: o.segmentRecords !== undefined,
    connectTimeout: checkTimeout('connectTimeout', o.connectTimeout),
    commandTimeout: checkTimeout('commandTimeout', o.commandTimeout),
    retention: checkRetention(o.retention as RetentionPolicy | undefined),
  };
}

function checkTimeout(name: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new InvalidArgumentError(
      `${name} must be a number of milliseconds from 1 to ${2 ** 31 - 1}, got: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function checkName(name: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new InvalidArgumentError(
      `${name} must be 1 to 128 characters of letters, digits, "_", ".", ":" or "-", got: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A printable URL for a client the store did not create (`fromRedis`). */
export function describeClient(options: RedisOptions, config: LogConfig): string {
  const scheme = options.tls === undefined ? 'redis' : 'rediss';
  const host = options.host ?? '127.0.0.1';
  const shown = host.includes(':') ? `[${host}]` : host;
  return (
    `${scheme}://${shown}:${options.port ?? 6379}/${options.db ?? 0}` +
    `?prefix=${config.keyPrefix}&log=${config.log}`
  );
}
