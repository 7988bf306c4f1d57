import type { PoolConfig } from 'pg';
import { InvalidArgumentError } from '../../engine/errors.js';
import { checkRetention, parseRetention } from '../../engine/retention.js';
import { storeUrlParams } from '../../engine/store-url.js';
import type { RetentionPolicy } from '../../engine/storage.js';

/** Options of {@link openPostgresStore}. Each may also be given in the URL's query. */
export interface PostgresStoreOptions {
  /** Schema holding the store's tables (`?schema=`); created on first open. Default `eventy`. */
  readonly schema?: string;
  /** Name of the log (`?log=`): its table is `<schema>.log_<log>`. Default `default`. */
  readonly log?: string;
  /**
   * Records per partition (`?segmentRecords=`), the unit retention drops; default 1,048,576. Fixed when
   * the log is created: later opens use the stored value, and naming a different one is refused.
   */
  readonly segmentRecords?: number;
  /**
   * Deadline of every call in ms (`?timeout=`): connecting, each statement (client side and as the
   * server's `statement_timeout`). A call past it fails with `unavailable`. Default 10,000.
   */
  readonly timeout?: number;
  /** Connections of the store's pool for appends and reads (`?pool=`); default 4. Followers share one more. */
  readonly pool?: number;
  /**
   * What `compact` may remove once a snapshot covers it (`?retention=7d&retentionBytes=10GiB`). Default:
   * keep everything.
   */
  readonly retention?: RetentionPolicy;
}

/** Default records per partition: 2^20. */
export const DEFAULT_SEGMENT_RECORDS = 1_048_576;
const MAX_SEGMENT_RECORDS = 2 ** 40;

/** What a store needs to know about its log, checked. */
export interface PgLogConfig {
  readonly schema: string;
  readonly log: string;
  readonly segmentRecords: number;
  /** True when the caller named the segment size (then it must match a stored one). */
  readonly segmentExplicit: boolean;
  readonly timeout: number;
  readonly pool: number;
  readonly retention: RetentionPolicy | undefined;
}

/** A parsed `postgres://` / `postgresql://` URL. */
export interface ParsedPgUrl {
  /** Connection settings for `pg` (without pool size and deadlines, which come from the config). */
  readonly connection: PoolConfig;
  readonly config: PgLogConfig;
  /** The URL with its password hidden, for `store.url` and messages. */
  readonly display: string;
}

const OPTION_NAMES = ['schema', 'log', 'segmentRecords', 'timeout', 'pool', 'retention'] as const;
const NUMERIC = new Set(['segmentRecords', 'timeout', 'pool']);
const SSL_MODES = ['disable', 'require', 'verify-full'] as const;
// Unquoted-identifier safe: the names become parts of table names and of a NOTIFY channel.
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const LOG = /^[a-z0-9_]{1,40}$/;

/**
 * Parses `postgres://[user[:password]@]host[:port]/database[?schema=…&log=…&segmentRecords=…&timeout=…
 * &pool=…&sslmode=disable|require|verify-full]` (`postgresql://` too). Options given in code win over the
 * query. User, password and database default as `pg` does (`PGUSER`, … then the OS user).
 * @throws InvalidArgumentError naming the bad part of the URL or the bad option.
 */
export function parsePostgresUrl(url: string, options: PostgresStoreOptions = {}): ParsedPgUrl {
  const display = hidePassword(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new InvalidArgumentError(`postgres store URL is not a valid URL, got: ${display}`, { cause });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InvalidArgumentError(
      `postgres store URL must start with postgres:// or postgresql://, got: ${display}`,
    );
  }
  const connection: PoolConfig = { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost' };
  if (parsed.port !== '') connection.port = Number(parsed.port);
  if (parsed.username !== '') connection.user = decode(parsed.username, 'user', display);
  if (parsed.password !== '') connection.password = decode(parsed.password, 'password', display);
  const database = decode(parsed.pathname.replace(/^\//, ''), 'database', display);
  if (database.includes('/')) {
    throw new InvalidArgumentError(`postgres store URL path must be one database name, got: ${display}`);
  }
  if (database !== '') connection.database = database;
  const { query, sslmode } = queryOptions(storeUrlParams(parsed.searchParams, 'postgres', display), display);
  if (sslmode === 'require') connection.ssl = { rejectUnauthorized: false };
  if (sslmode === 'verify-full') connection.ssl = true;
  return { connection, config: checkStoreOptions({ ...query, ...checkOptionsObject(options) }), display };
}

function decode(text: string, part: string, display: string): string {
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new InvalidArgumentError(`postgres store URL has a badly escaped ${part} in ${display}`, { cause });
  }
}

function queryOptions(
  params: URLSearchParams,
  display: string,
): { query: Record<string, unknown>; sslmode: string } {
  const query: Record<string, unknown> = {};
  let sslmode = 'disable';
  for (const [name, value] of params) {
    if (name === 'retentionBytes' || name === 'retention') {
      query.retention = parseRetention({
        retention: params.get('retention') ?? undefined,
        retentionBytes: params.get('retentionBytes') ?? undefined,
      });
    } else if (name === 'sslmode') {
      if (!(SSL_MODES as readonly string[]).includes(value)) {
        throw new InvalidArgumentError(
          `sslmode must be one of ${SSL_MODES.join(', ')}, got: ${JSON.stringify(value)} in ${display}`,
        );
      }
      sslmode = value;
    } else if ((OPTION_NAMES as readonly string[]).includes(name)) {
      query[name] = NUMERIC.has(name) && /^\d{1,15}$/.test(value) ? Number(value) : value;
    } else {
      throw new InvalidArgumentError(
        `unknown postgres store URL parameter ${JSON.stringify(name)} in ${display}: expected ${OPTION_NAMES.join(', ')}, retentionBytes, sslmode`,
      );
    }
  }
  return { query, sslmode };
}

function checkOptionsObject(options: unknown): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`postgres store options must be an object, got: ${String(options)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `unknown postgres store option ${JSON.stringify(name)}: expected ${OPTION_NAMES.join(', ')}`,
      );
    }
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Checks {@link PostgresStoreOptions} and fills in the defaults.
 * @throws InvalidArgumentError on an unknown option or a wrong value, naming it and the value.
 */
export function checkStoreOptions(options: unknown): PgLogConfig {
  const o = checkOptionsObject(options);
  const schema = checkName('schema', o.schema ?? 'eventy', SCHEMA, 'a lowercase letter or "_" then up to 62');
  const log = checkName('log', o.log ?? 'default', LOG, '1 to 40');
  return {
    schema,
    log,
    segmentRecords: checkInt(
      'segmentRecords',
      o.segmentRecords ?? DEFAULT_SEGMENT_RECORDS,
      MAX_SEGMENT_RECORDS,
    ),
    segmentExplicit: o.segmentRecords !== undefined,
    timeout: checkInt('timeout', o.timeout ?? 10_000, 3_600_000),
    pool: checkInt('pool', o.pool ?? 4, 100),
    retention: checkRetention(o.retention as RetentionPolicy | undefined),
  };
}

function checkName(name: string, value: unknown, pattern: RegExp, shape: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidArgumentError(
      `${name} must be ${shape} lowercase letters, digits or "_", got: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function checkInt(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer from 1 to ${max}, got: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The URL with any password replaced by `***`, safe to print (the whole password, whatever it holds). */
export function hidePassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^/]*@/i, '$1***@');
}
