import { describe, expect, it } from 'vitest';
import { openStore, type RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';

function event(n: number): RecordDraft {
  return {
    type: 'event.published',
    queue: 'orders',
    eventId: `e-${n}`,
    payload: { n, pad: 'x'.repeat(40) },
    headers: {},
  };
}

describe('eventy compact, and the commands on a compacted log', () => {
  const { cli, store } = cliTestbed();
  // Small segments, so that a few records fill several.
  const url = (): string => `${store.url}?segmentBytes=1024`;

  async function append(n: number): Promise<void> {
    const s = await openStore(url());
    try {
      for (let i = 0; i < n; i += 4) await s.append([0, 1, 2, 3].map((k) => event(i + k)));
    } finally {
      await s.close();
    }
  }

  it('removes nothing without a snapshot and says why; --dry-run removes nothing; compact removes whole segments', async () => {
    await append(60);
    const none = await cli.run(['compact', '--retention-bytes', '0B', '--store', url()]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/nothing removed: the log has no snapshot/);
    const bad = await cli.run(['compact', '--retention', '7 days', '--store', url()]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--retention must be an integer with a unit s, m, h or d/);

    const snap = await cli.run(['snapshot', '--json', '--store', url()]);
    expect(snap.code).toBe(0);
    const { position } = JSON.parse(snap.stdout) as { position: number };

    const dry = await cli.run([
      'compact',
      '--dry-run',
      '--retention-bytes',
      '0B',
      '--json',
      '--store',
      url(),
    ]);
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout) as {
      segments: number;
      bytes: number;
      first: number;
      dryRun: boolean;
    };
    expect(planned).toMatchObject({ dryRun: true, snapshot: { position } });
    expect(planned.segments).toBeGreaterThan(1);
    expect(planned.first).toBeLessThanOrEqual(position + 1);

    const done = await cli.run(['compact', '--retention-bytes', '0B', '--store', url()]);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(
      new RegExp(
        `removed ${planned.segments} segment\\(s\\), .* bytes, .* now starts at position ${planned.first}`,
      ),
    );

    const tail = await cli.run(['tail', '--from', '0', '--json', '--store', url()]);
    expect(tail.code).toBe(0);
    expect(tail.stderr).toMatch(
      new RegExp(
        `retention removed the records before position ${planned.first}; starting at ${planned.first}`,
      ),
    );
    const lines = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { position: number });
    expect(lines[0]?.position).toBe(planned.first);

    // Views fold from the newest snapshot once the records before it are gone: the counts are the log's.
    const stats = await cli.run(['stats', '--store', url()]);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(
      new RegExp(`first retained ${planned.first}\\); newest snapshot at position ${position}`),
    );
    expect(stats.stdout).toMatch(/^orders\s+60\b/m);
    const replay = await cli.run(['replay', '--json', '--store', url()]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/"published":60/);
    const before = await cli.run(['replay', '--to', '0', '--store', url()]);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(
      new RegExp(`no longer holds position 0: retention removed the records before ${planned.first}`),
    );

    const verify = await cli.run(['verify', '--store', url()]);
    expect(verify.stderr + verify.stdout).not.toMatch(/missing/);
    expect(verify.code).toBe(0);
  });
});
