import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { InvalidArgumentError, type QueueManager } from '../../index.js';
import { FeedHub } from './feed-hub.js';
import { toHttpError } from './http-errors.js';
import { pageRoutes } from './page.js';
import { claimRoutes } from './routes-claims.js';
import { eventRoutes } from './routes-events.js';
import { feedRoutes } from './routes-feed.js';
import { viewRoutes } from './routes-views.js';
import { SHARED } from './schemas.js';

/** Options of {@link serve}. */
export interface ServeOptions {
  /** TCP port; default 7733; 0 picks a free one. */
  readonly port?: number;
  /** Interface to listen on; default `127.0.0.1`. Any non-loopback address requires `token`. */
  readonly host?: string;
  /** Bearer token every API call must carry (`Authorization: Bearer T`, or `access_token=T`). */
  readonly token?: string;
  /** Largest request body in bytes; default 1 MiB (413 beyond). */
  readonly maxBody?: number;
  /** The one origin allowed to call the API from a browser (CORS); default none. */
  readonly cors?: string;
  /** Bytes a live-feed client may have queued before it is told `lagging` and closed; default 8 MiB. */
  readonly feedBuffer?: number;
}

/** A running server: `close()` or `await using` stops it (the manager stays open: it is the caller's). */
export interface EventyServer extends AsyncDisposable {
  /** `http://host:port`, the address it listens on. */
  readonly url: string;
  readonly port: number;
  /** The fastify instance, e.g. for `inject` in tests or extra routes. */
  readonly app: FastifyInstance;
  /** Live-feed clients following the log now (those still catching up from a position not counted). */
  feedClients(): number;
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Serves a manager's queues over HTTP: REST mirroring the queue API (OpenAPI at `/openapi.json`), the
 * live feed (`/feed` WebSocket, `/feed/sse`) and the dashboard page at `/`.
 * @throws InvalidArgumentError for a bad option, or a non-loopback `host` without a `token`.
 * @example
 * await using server = await serve(manager, { port: 7733 });
 * console.log(`dashboard at ${server.url}`);
 */
export async function serve(manager: QueueManager, options: ServeOptions = {}): Promise<EventyServer> {
  const { port = 7733, host = '127.0.0.1', token, maxBody = MIB, cors, feedBuffer = 8 * MIB } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`port must be an integer 0–65535, got: ${String(port)}`);
  }
  if (!Number.isInteger(maxBody) || maxBody < 1) {
    throw new InvalidArgumentError(`maxBody must be a positive integer (bytes), got: ${String(maxBody)}`);
  }
  if (token !== undefined && token.length < 8) {
    throw new InvalidArgumentError('token must be at least 8 characters long');
  }
  if (token === undefined && !isLoopback(host)) {
    throw new InvalidArgumentError(
      `refusing to listen on ${host} without a token: anyone who reaches it could publish and delete. ` +
        'Pass --token (or EVENTY_TOKEN), or listen on 127.0.0.1',
    );
  }
  const app = Fastify({
    bodyLimit: maxBody,
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  await manager.ready();
  const hub = new FeedHub(manager);
  await hub.start();
  try {
    await app.register(fastifySwagger, {
      openapi: {
        info: { title: 'Eventy', version: '1', description: 'Queues, results, claims and views of one log' },
        ...(token === undefined
          ? {}
          : { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } }),
      },
    });
    await app.register(fastifyWebsocket, { options: { maxPayload: maxBody } });
    for (const schema of SHARED) app.addSchema(schema);
    app.setErrorHandler((e, _req, reply) => {
      const { status, body } = toHttpError(e);
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((req, reply) =>
      reply
        .code(404)
        .send({ code: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` }),
    );
    if (cors !== undefined) allowOrigin(app, cors);
    if (token !== undefined) requireToken(app, token);
    app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
    eventRoutes(app, manager);
    claimRoutes(app, manager);
    viewRoutes(app, manager);
    feedRoutes(app, hub, feedBuffer);
    pageRoutes(app);
    await app.listen({ port, host });
  } catch (e) {
    hub.close();
    await app.close();
    throw e;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      hub.close();
      for (const client of app.websocketServer.clients) client.terminate();
      await app.close();
    })());
  return {
    url: `http://${shown}:${bound}`,
    port: bound,
    app,
    feedClients: () => hub.clients,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Every API route needs the token; the page's own files do not (they hold no data). */
function requireToken(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method === 'OPTIONS' || isPageFile(req.url)) return;
    const header = req.headers.authorization;
    const params = req.query as { access_token?: unknown };
    const query = params.access_token;
    // Read here and gone before validation: routes never see (nor echo) the token.
    delete params.access_token;
    const given =
      typeof header === 'string' && header.startsWith('Bearer ')
        ? header.slice(7)
        : typeof query === 'string'
          ? query
          : undefined;
    if (given === undefined) {
      return reply
        .code(401)
        .send({ code: 'unauthorized', message: 'a token is required (Authorization: Bearer …)' });
    }
    // Digests have one length, so the comparison takes the same time whatever was sent.
    if (!timingSafeEqual(digest(given), expected)) {
      return reply.code(403).send({ code: 'forbidden', message: 'the token does not match' });
    }
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function isPageFile(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/' || /^\/[\w-]+\.(html|js|css|svg)$/.test(path) || path.startsWith('/vendor/');
}

function allowOrigin(app: FastifyInstance, origin: string): void {
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.origin !== origin) return;
    reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    if (req.method === 'OPTIONS') {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, DELETE')
        .header('access-control-allow-headers', 'authorization, content-type, last-event-id')
        .header('access-control-max-age', '600')
        .send();
    }
  });
  app.options('/*', { schema: { hide: true } }, (_req, reply) => reply.code(204).send());
}
