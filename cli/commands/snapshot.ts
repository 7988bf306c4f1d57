import type { Command } from 'commander';
import { createManager } from '../../index.js';
import { storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { formatCount, toJson, writeLine } from '../output.js';
import { withExistingStore } from '../store.js';

interface SnapshotOptions {
  store: string;
  json?: boolean;
}

/** `eventy snapshot`: folds the log, stores a snapshot of the views and appends `snapshot.taken`. */
export function snapshotCommand(program: Command, ctx: CliContext): void {
  program
    .command('snapshot')
    .summary('write a snapshot of the views now')
    .description(
      'fold the log, store a snapshot of the views at its head and append snapshot.taken: processes then start from it',
    )
    .addOption(storeOption(ctx.env))
    .option('--json', 'print {position, ref, bytes, events, ms, compacted} as JSON')
    .addHelpText(
      'after',
      `
Workers write snapshots by themselves (every snapshotEvery records, default 100,000); this writes one
now. Processes start from the newest valid snapshot and fold only what follows it. Then, as after
theirs, the store's retention policy (?retention= / ?retentionBytes= in its URL) removes the segments
the snapshot covers, and snapshots no start-up can use any more are deleted.

Examples:
  $ eventy snapshot
  $ eventy snapshot --store file:/var/lib/app/log --json`,
    )
    .action((o: SnapshotOptions) => snapshot(ctx, o));
}

async function snapshot(ctx: CliContext, o: SnapshotOptions): Promise<void> {
  const info = await withExistingStore(o.store, async (store) => {
    const manager = await createManager(store, {
      ownsStore: false,
      handleSignals: false,
      scheduler: false,
      snapshotEvery: 0,
    });
    try {
      return await manager.snapshot();
    } finally {
      await manager.close();
    }
  });
  const { position, ref, bytes, events, ms, compacted } = info;
  if (o.json) {
    const removed = compacted && {
      segments: compacted.segments,
      bytes: compacted.bytes,
      first: compacted.first,
    };
    await writeLine(
      ctx.stdout,
      toJson({ position, ref, bytes, events, ms: Math.round(ms), compacted: removed ?? null }),
    );
    return;
  }
  await writeLine(
    ctx.stdout,
    `snapshot at position ${position}: ${ref}, ${formatCount(bytes)} bytes, ` +
      `${formatCount(events)} open events, ${Math.round(ms)} ms`,
  );
  if (compacted !== undefined) {
    await writeLine(
      ctx.stdout,
      `retention removed ${formatCount(compacted.segments)} segment(s), ${formatCount(compacted.bytes)} bytes; ` +
        `the log starts at position ${compacted.first}`,
    );
  }
}
