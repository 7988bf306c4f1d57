import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Subscriber, type Queue, type QueueManager, type SubscribeOptions } from '../index.js';

/** Module files `eventy run` loads: JavaScript, and TypeScript under tsx. */
export const JS_EXTENSIONS = ['.js', '.mjs', '.cjs'];
export const TS_EXTENSIONS = ['.ts', '.mts', '.cts'];

/** What a worker module's default export receives beside the manager. */
export interface WorkerContext {
  /** `--concurrency` of `eventy run`, when given: also the default of every `subscribe` in the module. */
  readonly concurrency: number | undefined;
  /** This process's slot, 1 to `--processes`. */
  readonly slot: number;
  /** Aborted when the worker is asked to stop. */
  readonly signal: AbortSignal;
}

/**
 * A worker module, as `eventy run MODULE` loads it: its default export sets up the subscriptions.
 * @example
 * export default async function (manager) {
 *   await manager.queue('orders').subscribe(async (e) => bill(e.payload), { name: 'bill' });
 * }
 */
export type WorkerModule = (manager: QueueManager, context: WorkerContext) => unknown;

/** Calls methods on the real object, so its private fields work behind a proxy. */
function bound(target: object, key: string | symbol): unknown {
  const value: unknown = Reflect.get(target, key, target);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

/**
 * The manager as the module sees it: `subscribe` takes `defaults` (e.g. the `--concurrency` of
 * `eventy run`) unless the call or a Subscriber's own options say otherwise.
 */
export function withSubscribeDefaults(manager: QueueManager, defaults: SubscribeOptions): QueueManager {
  if (Object.keys(defaults).length === 0) return manager;
  const wrap = (queue: Queue): Queue =>
    new Proxy(queue, {
      get(target, key) {
        if (key !== 'subscribe') return bound(target, key);
        return (handler: Parameters<Queue['subscribe']>[0], options: SubscribeOptions = {}) => {
          const own = handler instanceof Subscriber ? handler.options : {};
          const extra = Object.fromEntries(
            Object.entries(defaults).filter(([k]) => !(k in own) && !(k in options)),
          );
          return target.subscribe(handler, { ...extra, ...options });
        };
      },
    });
  return new Proxy(manager, {
    get(target, key) {
      if (key !== 'queue') return bound(target, key);
      return (name: string, options?: Parameters<QueueManager['queue']>[1]) =>
        wrap(target.queue(name, options));
    },
  });
}

/**
 * The module files of `eventy run PATH`: PATH itself when it is a file; for a directory, every .js/.mjs/
 * .cjs/.ts/.mts/.cts file in it and its subdirectories, in path order, leaving out declaration files
 * (`.d.ts`), tests (`.test.*`, `.spec.*`), `node_modules` and names starting with `.` or `_` (helpers).
 */
export function moduleFiles(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  const found: string[] = [];
  const visit = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith('.') || name.startsWith('_') || name === 'node_modules') continue;
      const full = join(dir, name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() && isModuleName(name)) found.push(full);
    }
  };
  visit(path);
  return found;
}

function isModuleName(name: string): boolean {
  const ext = extname(name);
  if (!JS_EXTENSIONS.includes(ext) && !TS_EXTENSIONS.includes(ext)) return false;
  return !/\.d\.[mc]?ts$/.test(name) && !/\.(test|spec)\.[mc]?[jt]s$/.test(name);
}
