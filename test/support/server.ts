import { createQueueManager, type QueueManager, type QueueManagerOptions } from '../../index.js';
import { serve, type EventyServer, type ServeOptions } from '../../adapters/server/index.js';

/** A manager on a fresh memory log and a server on a free port, closed together. */
export interface Served extends AsyncDisposable {
  readonly manager: QueueManager;
  readonly server: EventyServer;
  /** `fetch` on the server: path relative to its URL, JSON body when given. */
  call(
    path: string,
    init?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** GET + JSON. */
  json<T = Record<string, unknown>>(path: string): Promise<T>;
}

export async function served(
  options: ServeOptions = {},
  managerOptions: QueueManagerOptions = {},
): Promise<Served> {
  const manager = await createQueueManager({ store: 'memory:', handleSignals: false, ...managerOptions });
  const server = await serve(manager, { port: 0, ...options });
  const call: Served['call'] = (path, init = {}) =>
    fetch(server.url + path, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  return {
    manager,
    server,
    call,
    async json<T>(path: string): Promise<T> {
      const res = await call(path);
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await manager.close();
    },
  };
}
