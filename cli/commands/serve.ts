import type { Command } from 'commander';
import { createQueueManager, maskUrl } from '../../index.js';
import { serve } from '../../adapters/server/index.js';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { writeLine } from '../output.js';

interface ServeCliOptions {
  store: string;
  port: number;
  host: string;
  token?: string;
  maxBody: number;
  cors?: string;
}

/** `eventy serve`: the HTTP API, the live feed and the dashboard page on one log, until Ctrl-C. */
export function serveCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .summary('the HTTP API, the live feed and the dashboard page')
    .description(
      'serve one log over HTTP: REST mirroring the queue API (OpenAPI at /openapi.json), a live feed ' +
        '(WebSocket /feed, SSE /feed/sse) and the dashboard page at /, until Ctrl-C',
    )
    .addOption(storeOption(ctx.env))
    .option('--port <n>', 'TCP port (0: any free one)', intAtLeast(0), 7733)
    .option('--host <address>', 'interface to listen on; anything but loopback needs a token', '127.0.0.1')
    .option('--token <token>', 'bearer token every API call must carry (default: EVENTY_TOKEN)')
    .option('--max-body <bytes>', 'largest request body (413 beyond)', intAtLeast(1), 1024 * 1024)
    .option('--cors <origin>', 'let pages of this origin call the API')
    .addHelpText(
      'after',
      `
Examples:
  $ eventy serve                                  http://127.0.0.1:7733 on ./.eventy
  $ EVENTY_TOKEN=… eventy serve --host 0.0.0.0    reachable from other machines, token required
  $ curl -X POST localhost:7733/queues/orders/events -H 'content-type: application/json' -d '{"payload":{"id":7}}'`,
    )
    .action((o: ServeCliOptions) => serveCli(ctx, o));
}

async function serveCli(ctx: CliContext, o: ServeCliOptions): Promise<void> {
  const token = o.token ?? ctx.env.EVENTY_TOKEN;
  await using manager = await createQueueManager({ store: o.store, handleSignals: false });
  await using server = await serve(manager, {
    port: o.port,
    host: o.host,
    maxBody: o.maxBody,
    ...(token === undefined || token === '' ? {} : { token }),
    ...(o.cors === undefined ? {} : { cors: o.cors }),
  });
  const auth = token ? ', token required' : '';
  await writeLine(ctx.stdout, `eventy serve: ${server.url}/ on ${maskUrl(o.store)}${auth} (Ctrl-C stops)`);
  await untilAborted(ctx.signal);
}

/** Resolves once `signal` aborts (Ctrl-C, SIGTERM). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
