import pg from 'pg';
import { Notifier } from '../../engine/notifier.js';

/** Polling period of followers while the LISTEN connection is up (a notification was lost only if it drops). */
export const POLL_LISTENING_MS = 1_000;
/** Polling period while it is down (connecting, or the server is away). */
export const POLL_DEAF_MS = 100;

/**
 * The LISTEN side of one store: one connection shared by all its followers, opened on the first
 * follow, re-opened with backoff whenever it drops (the server restarted, the network failed). Each
 * notification on the log's channel (sent by every append, in its transaction, so at its commit) bumps
 * {@link version} and wakes the waiters. Followers poll as well, faster while the connection is down,
 * so nothing depends on a notification arriving.
 *
 * States: `idle` (no follower yet), `connecting`, `listening`, `waiting` (backoff before the next
 * attempt), `closed`.
 */
export class PgListener {
  readonly notifier = new Notifier();
  /** Bumped by every notification: a follower compares it around a read to catch one in between. */
  version = 0;
  /**
   * The highest head a notification (its payload: the log's head after the append) or a poke named.
   * Appends commit in position order, so every position below it is committed: a follower that read
   * past it has nothing new to read, e.g. on the echo of its own process's append.
   */
  head = 0;
  /** Bumped when notifications may have been missed (connected again) or one named no head. */
  resyncs = 0;
  /**
   * Bumped whenever the connection is lost and whenever it is made: what a process learned of the server
   * before (its own appends that did not wait for the WAL flush) may not have survived a restart.
   */
  generation = 0;
  #state: 'idle' | 'connecting' | 'listening' | 'waiting' | 'closed' = 'idle';
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
  ) {}

  /**
   * Wakes the followers at once, as a notification would: an append of this process committed (its
   * NOTIFY takes a round trip through the server to come back).
   */
  poke(head: number): void {
    if (head > this.head) this.head = head;
    this.version++;
    this.notifier.notify();
  }

  /**
   * True when something may have been appended at or after `next` since the follower took `resyncs`:
   * a notification or poke named a head past it, or notifications may have been missed.
   */
  moved(next: number, resyncs: number): boolean {
    return this.head > next || this.resyncs !== resyncs;
  }

  /** Starts listening if nobody did yet. */
  start(): void {
    if (this.#state === 'idle') this.#connect();
  }

  /** How long a follower waits before it reads again without a notification. */
  get pollMs(): number {
    return this.#state === 'listening' ? POLL_LISTENING_MS : POLL_DEAF_MS;
  }

  get state(): string {
    return this.#state;
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    this.notifier.notify();
    if (client !== undefined) await client.end().catch(() => undefined);
  }

  #connect(): void {
    this.#state = 'connecting';
    const client = new pg.Client(this.config);
    this.#client = client;
    client.on('notification', (m) => {
      if (m.channel !== this.channel) return;
      const head = Number(m.payload);
      if (!Number.isFinite(head)) this.resyncs++;
      else if (head > this.head) this.head = head;
      this.version++;
      this.notifier.notify();
    });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client
      .connect()
      .then(() => client.query(`LISTEN "${this.channel}"`))
      .then(() => {
        if (this.#client !== client) return;
        this.#state = 'listening';
        this.#attempt = 0;
        this.generation++;
        // Whatever was appended while nobody listened: followers read again now.
        this.resyncs++;
        this.version++;
        this.notifier.notify();
      })
      .catch(() => this.#lost(client));
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client || this.#state === 'closed') return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#state = 'waiting';
    this.generation++;
    this.#attempt++;
    const delay = Math.min(50 * 2 ** Math.min(this.#attempt, 6), 2_000) + Math.floor(Math.random() * 100);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === 'waiting') this.#connect();
    }, delay);
    this.#timer.unref();
  }
}
