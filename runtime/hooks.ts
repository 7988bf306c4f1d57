import { InvalidArgumentError } from '../engine/errors.js';
import type { HandlerContext, QueueEvent } from './types.js';

/** Where a start or shutdown hook runs: the worker, and for a subscription's hooks its queue and name. */
export interface HookInfo {
  readonly workerId: string;
  readonly queue?: string;
  readonly subscriber?: string;
}

/**
 * Lifecycle hooks (Eventide's on_start, on_shutdown, on_message_received/success/failure), for a
 * manager (`createQueueManager({ hooks })`: every subscription it hosts) or one subscription
 * (`subscribe(fn, { hooks })`). Each is awaited, in order (the manager's, then the subscription's);
 * an event's hooks run in its slot (its concurrency counts them). They are called with the framework's
 * verdict: an attempt that timed out, was interrupted or lost its lease is a failure, whatever its
 * handler does later, and each attempt gets exactly one of `onSuccess` / `onFailure`. A hook that
 * throws is reported (a process warning `EVENTY_HOOK_FAILED`, counted in `inspect().hosted[].hookErrors`)
 * and changes nothing of the event's outcome.
 */
export interface Hooks<T = unknown> {
  /** Before the first event: when the manager is created, or before the subscription starts. */
  onStart?(info: HookInfo): unknown;
  /** After the last event: once the manager closed its subscriptions, or the subscription stopped. */
  onShutdown?(info: HookInfo): unknown;
  /** Before the handler runs (the handler waits for it). */
  onReceived?(event: QueueEvent<T>, ctx: HandlerContext): unknown;
  /** The attempt ended `ok` (with the handler's return value) or `skipped` (with its {@link Skip}). */
  onSuccess?(event: QueueEvent<T>, result: unknown, ctx: HandlerContext): unknown;
  /** The attempt ended `failed` or `timeout` (retried or not: `ctx.attempt` says which one it was). */
  onFailure?(event: QueueEvent<T>, error: unknown, ctx: HandlerContext): unknown;
}

export type HookName = keyof Hooks;
const NAMES: readonly HookName[] = ['onStart', 'onShutdown', 'onReceived', 'onSuccess', 'onFailure'];

/** @throws InvalidArgumentError unless `hooks` is an object of known hooks, each a function. */
export function checkHooks(hooks: unknown, what: string): Hooks | undefined {
  if (hooks === undefined) return undefined;
  if (typeof hooks !== 'object' || hooks === null || Array.isArray(hooks)) {
    throw new InvalidArgumentError(`${what} hooks must be an object of functions, got: ${typeof hooks}`);
  }
  for (const [name, fn] of Object.entries(hooks)) {
    if (!NAMES.includes(name as HookName)) {
      throw new InvalidArgumentError(
        `unknown ${what} hook ${JSON.stringify(name)} (known: ${NAMES.join(', ')})`,
      );
    }
    if (fn !== undefined && typeof fn !== 'function') {
      throw new InvalidArgumentError(`${what} hook ${name} must be a function, got: ${typeof fn}`);
    }
  }
  return hooks;
}

/** The hooks one subscription runs (its manager's, then its own) and the count of those that threw. */
export class HookSet {
  #errors = 0;

  constructor(private readonly lists: readonly Hooks[]) {}

  /** Undefined when none of `lists` has a hook: the dispatch path stays as it is without hooks. */
  static of(...lists: (Hooks | undefined)[]): HookSet | undefined {
    const present = lists.filter((h): h is Hooks => h !== undefined && Object.values(h).some(Boolean));
    return present.length === 0 ? undefined : new HookSet(present);
  }

  /** Hooks that threw so far. */
  get errors(): number {
    return this.#errors;
  }

  has(name: HookName): boolean {
    return this.lists.some((h) => typeof h[name] === 'function');
  }

  /** Runs every `name` hook in order, awaiting each; a hook's error is reported, never thrown. */
  async run(name: HookName, ...args: unknown[]): Promise<void> {
    for (const hooks of this.lists) {
      if (typeof hooks[name] !== 'function') continue;
      try {
        await (hooks as Record<HookName, (...a: unknown[]) => unknown>)[name](...args);
      } catch (e) {
        this.#errors++;
        process.emitWarning(`hook ${name} failed: ${e instanceof Error ? e.message : String(e)}`, {
          code: 'EVENTY_HOOK_FAILED',
          detail: e instanceof Error ? e.stack : undefined,
        });
      }
    }
  }
}
