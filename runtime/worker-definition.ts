import { InvalidArgumentError } from '../engine/errors.js';
import { compileFilter } from './filter.js';
import { checkHooks, HookSet, type Hooks } from './hooks.js';
import { addShutdownHooks, type QueueManager } from './manager.js';
import { checkName } from './names.js';
import { resolveSubscribe } from './subscribe-options.js';
import type { Subscription } from './subscriber.js';
import type { Filter, Handler, SubscribeOptions } from './types.js';

/** Marks the values of {@link defineWorker}, across copies of the package (a CLI and a module's own). */
const WORKER = Symbol.for('eventy.worker');

/** Options of one {@link handler}: the queue and the subscriber's options (`name` defaults to the function's). */
export interface HandlerOptions<T = unknown> extends Omit<SubscribeOptions, 'filter'> {
  readonly queue: string;
  readonly filter?: Filter<T>;
}

/** One routed handler: a subscriber of `options.queue` running `fn` (see {@link handler}). */
export interface HandlerDefinition<T = unknown> {
  readonly queue: string;
  readonly name: string;
  readonly options: SubscribeOptions;
  readonly fn: Handler<T>;
}

/** What {@link defineWorker} returns: a module's default export for `eventy run`. */
export interface WorkerDefinition {
  readonly [WORKER]: true;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each handler has its own payload type
  readonly handlers: readonly HandlerDefinition<any>[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- hooks see every handler's events
  readonly hooks: Hooks<any> | undefined;
}

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Concurrency of the handlers that do not set theirs (`eventy run --concurrency`). */
  readonly concurrency?: number;
}

/**
 * A handler of a worker module (Eventide's `@app.handler`): a subscriber of `options.queue` named
 * `options.name` (default: the function's name) that runs `fn` for the events its filter takes — JMESPath
 * expressions and/or predicates combined by `operator` (the others get a `skipped` result). Every handler
 * is its own subscriber, so an event that several handlers take runs in each of them once.
 * @throws InvalidArgumentError for a bad option, a bad filter, or no name.
 * @example handler({ queue: 'orders', filter: "payload.type == 'new_order'", retry: { limit: 3 } }, newOrder)
 */
export function handler<T = unknown>(options: HandlerOptions<T>, fn: Handler<T>): HandlerDefinition<T> {
  // From JavaScript callers too: check the values, not just the types.
  if (typeof (options as unknown) !== 'object' || (options as unknown) === null)
    throw new InvalidArgumentError('handler takes an options object ({ queue, … }) and a function');
  if (typeof (fn as unknown) !== 'function')
    throw new InvalidArgumentError(`handler for queue ${options.queue} needs a handler function`);
  const { queue, ...subscribe } = options;
  checkName('queue', queue);
  const name: unknown = subscribe.name ?? fn.name;
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(
      `a handler of queue ${queue} needs a name: give options.name, or pass a named function`,
    );
  }
  const own: SubscribeOptions = { ...subscribe, name };
  const resolved = resolveSubscribe(own, name); // checks every option now
  compileFilter(resolved.filter, resolved.predicates);
  return Object.freeze({ queue, name, options: own, fn });
}

/**
 * A worker module's handlers and hooks, Eventide style: `export default defineWorker({ handlers, hooks })`
 * and run it with `eventy run ./handlers` (a module or a directory of them), or in a process of your own
 * with {@link startWorker}. `hooks.onReceived` / `onSuccess` / `onFailure` run for every event of these
 * handlers (before a handler's own hooks); `onStart` runs once when the worker starts, before its handlers
 * subscribe, and `onShutdown` once when the manager closes, after every subscription stopped.
 * @throws InvalidArgumentError for a bad handler, a bad hook, or two handlers of one queue with one name.
 */
export function defineWorker(definition: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each handler has its own payload type
  readonly handlers: readonly HandlerDefinition<any>[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- hooks see every handler's events
  readonly hooks?: Hooks<any>;
}): WorkerDefinition {
  const input: unknown = definition;
  if (typeof input !== 'object' || input === null || !Array.isArray(definition.handlers)) {
    throw new InvalidArgumentError('defineWorker takes { handlers: [handler(…), …], hooks? }');
  }
  for (const h of definition.handlers as readonly unknown[]) {
    if (typeof h !== 'object' || h === null || typeof (h as HandlerDefinition).fn !== 'function')
      throw new InvalidArgumentError(
        'defineWorker: every entry of handlers must come from handler(options, fn)',
      );
  }
  const extra = Object.keys(definition).filter((k) => k !== 'handlers' && k !== 'hooks');
  if (extra.length > 0)
    throw new InvalidArgumentError(`unknown defineWorker option "${extra[0]}"; expected handlers, hooks`);
  checkDuplicates([definition.handlers]);
  return Object.freeze({
    [WORKER]: true as const,
    handlers: Object.freeze(definition.handlers.slice()),
    hooks: checkHooks(definition.hooks, 'worker'),
  });
}

/** Whether `value` came from {@link defineWorker} (of this or another copy of the package). */
export function isWorkerDefinition(value: unknown): value is WorkerDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[WORKER] === true;
}

/**
 * Starts worker definitions on `manager`: each one's `onStart`, then its handlers' subscriptions (with
 * its event hooks); its `onShutdown` runs when the manager closes. What `eventy run` does in each process.
 * @throws InvalidArgumentError when two handlers share a queue and a name.
 */
export async function startWorker(
  manager: QueueManager,
  definitions: WorkerDefinition | readonly WorkerDefinition[],
  options: StartWorkerOptions = {},
): Promise<Subscription[]> {
  const list: readonly WorkerDefinition[] = isWorkerDefinition(definitions) ? [definitions] : definitions;
  if (!list.every(isWorkerDefinition))
    throw new InvalidArgumentError('startWorker takes what defineWorker returned (or a list of them)');
  checkDuplicates(list.map((d) => d.handlers));
  const subscriptions: Subscription[] = [];
  for (const def of list) {
    const hooks: Hooks = def.hooks ?? {};
    const info = { workerId: manager.workerId };
    if (hooks.onStart) await HookSet.of({ onStart: () => hooks.onStart?.(info) })?.run('onStart', info);
    if (hooks.onShutdown) addShutdownHooks(manager, { onShutdown: (i) => hooks.onShutdown?.(i) });
    const perEvent: Hooks = {
      ...(hooks.onReceived && { onReceived: (e, ctx) => hooks.onReceived?.(e, ctx) }),
      ...(hooks.onSuccess && { onSuccess: (e, result, ctx) => hooks.onSuccess?.(e, result, ctx) }),
      ...(hooks.onFailure && { onFailure: (e, error, ctx) => hooks.onFailure?.(e, error, ctx) }),
    };
    for (const h of def.handlers) {
      const own = h.options.hooks === undefined ? [] : [h.options.hooks].flat();
      const subscribe: SubscribeOptions = {
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...h.options,
        hooks: [perEvent, ...own],
      };
      subscriptions.push(await manager.queue(h.queue).subscribe(h.fn, subscribe));
    }
  }
  return subscriptions;
}

function checkDuplicates(lists: readonly (readonly HandlerDefinition[])[]): void {
  const seen = new Set<string>();
  for (const h of lists.flat()) {
    const id = `${h.queue}/${h.name}`;
    if (seen.has(id))
      throw new InvalidArgumentError(
        `two handlers of queue ${h.queue} are named ${h.name}: give each its own name`,
      );
    seen.add(id);
  }
}
