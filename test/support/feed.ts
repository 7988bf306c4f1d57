import { request, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { until } from './wait.js';

/** A record as the feed sends it: what the tests look at. */
export interface FeedRecord {
  readonly type: string;
  readonly position: number;
  readonly queue?: string;
  readonly subscriberId?: string;
  readonly [key: string]: unknown;
}

/** A feed client as a test drives it: what it received, where it would resume, how it ended. */
export interface FeedClient {
  readonly records: FeedRecord[];
  /** Where to resume: WebSocket `next`, or the last SSE id + 1; undefined before anything arrived. */
  readonly next: number | undefined;
  /** The `next` of a `lagging` message, once one came. */
  readonly lagging: number | undefined;
  /** Resolves when the connection has ended: the WebSocket close code, or 0 for SSE. */
  readonly ended: Promise<number>;
  /** Stops reading from the socket (the kernel's buffers fill, then the server's). */
  pause(): void;
  resume(): void;
  /** Drops the connection at once, as a crashed client would. */
  kill(): void;
  /** Waits until a record at `position` or beyond has arrived. */
  reach(position: number, timeoutMs?: number): Promise<void>;
}

/** Opens `GET /feed` over WebSocket with `query` (e.g. `from=3&queue=a`). */
export async function wsFeed(baseUrl: string, query = ''): Promise<FeedClient> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/feed${query ? `?${query}` : ''}`);
  const records: FeedRecord[] = [];
  let next: number | undefined;
  let lagging: number | undefined;
  let killed = false;
  const ended = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer) => {
    if (killed) return;
    const m = JSON.parse(data.toString('utf8')) as { type: string; next?: number; records?: FeedRecord[] };
    if (m.type === 'records') {
      records.push(...(m.records ?? []));
      next = m.next;
    } else if (m.type === 'lagging') lagging = m.next;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client(
    records,
    () => next,
    () => lagging,
    ended,
    {
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      kill: () => {
        killed = true;
        ws.terminate();
      },
    },
  );
}

/** Opens `GET /feed/sse` with `query` and, when given, a `Last-Event-ID` header. */
export async function sseFeed(baseUrl: string, query = '', lastEventId?: number): Promise<FeedClient> {
  const records: FeedRecord[] = [];
  let lastId: number | undefined;
  let lagging: number | undefined;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(`${baseUrl}/feed/sse${query ? `?${query}` : ''}`, {
      headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) },
    });
    req.on('response', resolve).on('error', reject).end();
  });
  if (res.statusCode !== 200) throw new Error(`GET /feed/sse: ${res.statusCode}`);
  res.setEncoding('utf8');
  let buffer = '';
  let killed = false;
  res.on('data', (text: string) => {
    if (killed) return;
    buffer += text;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
      }
      const data = fields.get('data');
      if (data === undefined) continue;
      if (fields.get('event') === 'lagging') lagging = (JSON.parse(data) as { next: number }).next;
      else {
        records.push(JSON.parse(data) as FeedRecord);
        lastId = Number(fields.get('id'));
      }
    }
  });
  res.on('error', () => undefined);
  const ended = new Promise<number>((resolve) => res.on('close', () => resolve(0)));
  return client(
    records,
    () => (lastId === undefined ? undefined : lastId + 1),
    () => lagging,
    ended,
    {
      pause: () => res.pause(),
      resume: () => res.resume(),
      kill: () => {
        killed = true;
        res.destroy();
      },
    },
  );
}

function client(
  records: FeedRecord[],
  next: () => number | undefined,
  lagging: () => number | undefined,
  ended: Promise<number>,
  socket: { pause(): void; resume(): void; kill(): void },
): FeedClient {
  return {
    records,
    get next() {
      return next();
    },
    get lagging() {
      return lagging();
    },
    ended,
    ...socket,
    async reach(position, timeoutMs = 20_000) {
      await until(
        () => (records.at(-1)?.position ?? -1) >= position,
        `the feed to reach position ${position} (at ${records.at(-1)?.position ?? 'none'})`,
        timeoutMs,
      );
    },
  };
}

/**
 * Fails when `positions` repeats one, or misses one from `from` to `to` (both included). Positions past
 * `to` may be there (the log goes on: heartbeats), before `from` not.
 */
export function expectContiguous(positions: readonly number[], from: number, to: number): void {
  const seen = new Set<number>();
  for (const p of positions) {
    if (seen.has(p)) throw new Error(`position ${p} arrived twice`);
    if (p < from) throw new Error(`position ${p} is before ${from}`);
    seen.add(p);
  }
  for (let p = from; p <= to; p++) if (!seen.has(p)) throw new Error(`position ${p} never arrived`);
}
