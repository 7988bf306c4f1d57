import { describe, expect, it } from 'vitest';
import { cliTestbed } from '../support/cli.js';
import { until } from '../support/wait.js';

describe('eventy serve', () => {
  const { cli, store } = cliTestbed();

  it('serves the log at the URL it prints, never printing the token, and stops on SIGTERM', async () => {
    const token = 'serve-cli-token-123';
    const server = cli.spawn(['serve', '--port', '0', '--store', store.url], {
      env: { EVENTY_TOKEN: token },
    });
    const [line] = await server.waitForLines(1);
    expect(line).toMatch(/^eventy serve: http:\/\/127\.0\.0\.1:\d+\/ on file:.*, token required/);
    const url = /(http:\/\/[\d.:]+)\//.exec(line!)![1]!;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const published = await fetch(`${url}/queues/orders/events`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ payload: { id: 1 } }),
    });
    expect(published.status).toBe(201);
    expect((await fetch(`${url}/stats`)).status).toBe(401);
    server.proc.kill('SIGTERM');
    const end = await server.exited;
    expect(end.code).toBe(0);
    expect(end.stdout + end.stderr).not.toContain(token);
  });

  it('refuses to listen beyond loopback without a token (exit 2, says why)', async () => {
    const r = await cli.run(['serve', '--host', '0.0.0.0', '--port', '0', '--store', store.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it("demo --serve serves the dashboard on the demo's log while it runs and after, until SIGTERM", async () => {
    const demo = cli.spawn([
      'demo',
      '--serve',
      '--port',
      '0',
      '--count',
      '200',
      '-p',
      '1',
      '--store',
      store.url,
    ]);
    await until(() => demo.lines.find((l) => l.startsWith('dashboard: ')), 'the dashboard line', 30_000);
    const url = /dashboard: (http:\/\/[\d.:]+)\//.exec(demo.lines.join('\n'))![1]!;
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<script type="module" src="app.js">');
    await until(() => demo.lines.some((l) => l.endsWith('until Ctrl-C')), 'the demo to finish', 40_000);
    const overview = (await (await fetch(`${url}/overview`)).json()) as {
      stats: { queue: string; ok: number }[];
    };
    expect(overview.stats).toEqual([expect.objectContaining({ queue: 'demo', ok: 200 })]);
    demo.proc.kill('SIGTERM');
    expect((await demo.exited).code).toBe(0);
  });
});
