import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The page runs its own modules only and talks to its own origin only (fetch and the feed's WebSocket):
 * should a record's text ever reach the markup, no script of it runs. uPlot sets inline styles.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The package's own folder (the one holding its package.json), found from this module whether it runs
 * from the sources or from `dist/`: the page is served from there and nowhere else.
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'eventy'
    ) {
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('the eventy package folder was not found above the server module');
    dir = up;
  }
}

/**
 * The page at `/`: plain ES modules and a stylesheet from `adapters/server/public/`, and uPlot from the
 * package's own dependencies (resolved from this module, so `npx eventy serve` finds it). Only the files
 * listed at start are served, by exact name: no path from a request ever reaches the file system.
 */
export function pageRoutes(app: FastifyInstance): void {
  const root = join(packageRoot(), 'adapters', 'server', 'public');
  const require = createRequire(import.meta.url);
  const files = new Map<string, string>();
  for (const name of readdirSync(root)) {
    const ext = name.slice(name.lastIndexOf('.'));
    if (TYPES[ext] !== undefined) files.set(`/${name}`, join(root, name));
  }
  files.set('/vendor/uplot.js', require.resolve('uplot/dist/uPlot.esm.js'));
  files.set('/vendor/uplot.css', require.resolve('uplot/dist/uPlot.min.css'));
  const cache = new Map<string, Buffer>();
  const serve = (url: string, file: string): void => {
    const ext = file.slice(file.lastIndexOf('.'));
    app.get(url, { schema: { hide: true } }, (_req, reply) => {
      let body = cache.get(file);
      if (body === undefined) cache.set(file, (body = readFileSync(file)));
      return reply
        .type(TYPES[ext] ?? 'application/octet-stream')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', CSP)
        .header('referrer-policy', 'no-referrer')
        .send(body);
    });
  };
  for (const [url, file] of files) serve(url, file);
  const index = files.get('/index.html');
  if (index !== undefined) serve('/', index);
}
