import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  CorruptRecordError,
  InvalidArgumentError,
  isEventyError,
  UnavailableError,
} from '../../engine/errors.js';
import type { Durability } from '../../engine/storage.js';
import { COMMAND_OPTIONS, quiet, release, storeError } from './redis-connection.js';
import { RedisLayout } from './redis-layout.js';
import { RedisStore } from './redis-store.js';
import {
  checkStoreOptions,
  describeClient,
  parseRedisUrl,
  type LogConfig,
  type RedisStoreOptions,
} from './redis-url.js';

/**
 * Opens a log on Redis Streams, on a connection the store creates and closes.
 *
 * URL: `redis://[user:password@]host[:port][/db][?prefix=<keyPrefix>&log=<log>&segmentRecords=<n>
 * &connectTimeout=<ms>&commandTimeout=<ms>]`, or `rediss://…` for TLS. Defaults: port 6379, db 0,
 * prefix `eventy`, log `default`, 65,536 records per segment, 10 s for connecting and for each
 * command. Options given in code win over the query.
 *
 * The connection fails fast: while Redis is away, appends reject with `unavailable` at once (nothing
 * queued, nothing resent), and ioredis reconnects in the background with backoff.
 * @throws InvalidArgumentError on a bad URL or option, naming it; on a database index the server
 *   refuses; when authentication fails.
 * @throws UnavailableError when Redis cannot be reached, or does not answer within `connectTimeout`.
 * @example
 * await using store = await openRedisStore('redis://127.0.0.1:6379/0?log=orders');
 * await store.append([{ type: 'event.published', queue: 'q', eventId: 'e1', payload: {}, headers: {} }]);
 */
export async function openRedisStore(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  if (typeof url !== 'string') {
    throw new InvalidArgumentError(`redis store URL must be a string, got: ${String(url)}`);
  }
  const { redis, config, display } = parseRedisUrl(url, options);
  const client = quiet(
    new Redis({
      ...redis,
      ...COMMAND_OPTIONS,
      connectTimeout: config.connectTimeout,
      commandTimeout: config.commandTimeout,
      replyMapping: 'legacy',
    }),
  );
  await connectWithin(client, redis.db ?? 0, display, config.connectTimeout);
  try {
    return await createStore(client, true, config, display);
  } catch (e) {
    await release(client);
    throw e;
  }
}

/**
 * Opens a log on the user's ioredis client. The store never closes, quits or reconfigures that client;
 * `close()` releases only what the store created (its followers' `client.duplicate()` connections).
 *
 * Appends reject with `unavailable` at once while the client is reconnecting; otherwise the client's
 * own queueing and retry options apply. For appends that fail fast and are never sent twice, create the
 * client with `enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false`.
 * @throws InvalidArgumentError on a bad option or a value that is not an ioredis client.
 * @example
 * const store = await fromRedis(redis, { log: 'orders' });
 */
export async function fromRedis(
  client: Redis | Redis<'resp3'>,
  options: RedisStoreOptions = {},
): Promise<RedisStore> {
  const c = client as Partial<Redis> | null | undefined;
  if (typeof c?.duplicate !== 'function' || typeof c.evalsha !== 'function') {
    throw new InvalidArgumentError(
      `fromRedis needs an ioredis Redis client, got: ${c === null ? 'null' : typeof c}`,
    );
  }
  const config = checkStoreOptions(options);
  // The store reads replies in either mapping (see streamEntries, configValue).
  const redis = client as Redis;
  return createStore(redis, false, config, describeClient(redis.options, config));
}

// What the server says to a wrong user name or password (AUTH / HELLO), or to a missing one.
const AUTH_FAILED = /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH failed/i;

/**
 * Connects, authenticates and selects the database within `ms`, before anything is written: a silent
 * server (one that accepts TCP and never answers) is `unavailable` at the deadline, a wrong password an
 * authentication error, and a database index the server refuses an error instead of db 0 (ioredis only
 * reports a failed SELECT as an `error` event and goes on in db 0).
 */
async function connectWithin(client: Redis, db: number, display: string, ms: number): Promise<void> {
  const errors: Error[] = [];
  const seen = (e: Error): void => void errors.push(e);
  client.on('error', seen);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new UnavailableError(
          `cannot connect to Redis at ${display}: no answer within ${ms} ms (connectTimeout)`,
        ),
      );
    }, ms);
  });
  const connect = async (): Promise<void> => {
    await client.connect();
    const auth = errors.find((e) => AUTH_FAILED.test(e.message));
    if (auth !== undefined) throw auth;
    if (db !== 0) {
      try {
        await client.select(db);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        throw new InvalidArgumentError(
          `Redis at ${display} refuses database ${db} (${reason}); the URL's path names a database the server has (CONFIG GET databases), e.g. /0`,
          { cause: e },
        );
      }
    }
  };
  try {
    await Promise.race([connect(), deadline]);
  } catch (cause) {
    await release(client);
    if (isEventyError(cause)) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const auth = [...errors, cause].find(
      (e): e is Error => e instanceof Error && AUTH_FAILED.test(e.message),
    );
    if (auth !== undefined) {
      throw new InvalidArgumentError(
        `authentication failed at Redis ${display} (${auth.message}): check the user name and password in the URL`,
        { cause },
      );
    }
    throw new UnavailableError(`cannot connect to Redis at ${display} (${reason})`, { cause });
  } finally {
    clearTimeout(timer);
    client.off('error', seen);
  }
}

async function createStore(
  client: Redis,
  owned: boolean,
  config: LogConfig,
  url: string,
): Promise<RedisStore> {
  const layout = new RedisLayout(config);
  const replies = await client
    .pipeline()
    // The segment size is fixed by the first handle that opens the log.
    .hsetnx(layout.meta, 'seg', String(config.segmentRecords))
    .hget(layout.meta, 'seg')
    // So is the identity (see RedisLayout): a log found without one, new or made before identities
    // existed, gets one here.
    .hsetnx(layout.meta, 'id', randomUUID())
    .hsetnx(layout.meta, 'epoch', '1')
    .hmget(layout.meta, 'id', 'epoch')
    .config('GET', 'appendonly')
    .config('GET', 'appendfsync')
    .exec()
    .catch((e: unknown) => {
      throw storeError(e, 'open', url);
    });
  const [setErr] = replies?.[0] ?? [];
  const [getErr, stored] = replies?.[1] ?? [];
  if (setErr || getErr) throw storeError(setErr ?? getErr, 'open', url);
  const segmentRecords = Number(stored);
  if (!Number.isSafeInteger(segmentRecords) || segmentRecords < 1) {
    throw new CorruptRecordError(layout.meta, 0, `field seg is not a segment size: ${String(stored)}`);
  }
  if (config.segmentExplicit && segmentRecords !== config.segmentRecords) {
    throw new InvalidArgumentError(
      `segmentRecords must match the log's (fixed when it was created), which is ${segmentRecords}, got: ${config.segmentRecords}`,
    );
  }
  const [idErr, found] = replies?.[4] ?? [];
  if (idErr) throw storeError(idErr, 'open', url);
  const [id, epoch] = found as [string | null, string | null];
  if (id == null || epoch == null || !Number.isSafeInteger(Number(epoch))) {
    throw new CorruptRecordError(
      layout.meta,
      0,
      `fields id and epoch are not an identity: ${String(id)}, ${String(epoch)}`,
    );
  }
  const identity = { id, epoch: Number(epoch) };
  const durability = durabilityOf(configValue(replies?.[5]), configValue(replies?.[6]));
  const capabilities = { multiProcess: true, persistent: true, durability };
  const retention = config.retention;
  return new RedisStore({ client, owned, url, layout, segmentRecords, capabilities, identity, retention });
}

/** A `CONFIG GET` value, in the RESP2 shape or as a RESP3 map; undefined when CONFIG is not allowed. */
function configValue(result: [Error | null, unknown] | undefined): string | undefined {
  const [err, reply] = result ?? [];
  if (err || reply == null) return undefined;
  const value: unknown = Array.isArray(reply) ? reply[1] : Object.values(reply)[0];
  return typeof value === 'string' ? value : undefined;
}

/** The server's fsync policy in Eventy's terms: what an acknowledged append survives. */
function durabilityOf(appendonly: string | undefined, appendfsync: string | undefined): Durability {
  if (appendonly !== 'yes') return 'never';
  if (appendfsync === 'always') return 'always';
  return appendfsync === 'everysec' ? 'batch' : 'never';
}
