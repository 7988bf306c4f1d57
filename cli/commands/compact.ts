import type { Command } from 'commander';
import type { LogStore, RetentionPolicy } from '../../index.js';
import { storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { formatCount, toJson, writeLine } from '../output.js';
import { withExistingStore } from '../store.js';
import { parseByteSize, parseDuration } from '../../index.js';

interface CompactCliOptions {
  store: string;
  dryRun?: boolean;
  retention?: string;
  retentionBytes?: string;
  json?: boolean;
}

/** What `eventy compact` did (or would do), as `--json` prints it. */
interface CompactReport {
  readonly dryRun: boolean;
  readonly snapshot: { position: number; ref: string } | null;
  readonly segments: number;
  readonly bytes: number;
  readonly first: number;
  readonly reason?: string;
}

/** `eventy compact`: removes the segments that lie before the newest snapshot and the retention policy's cut. */
export function compactCommand(program: Command, ctx: CliContext): void {
  program
    .command('compact')
    .summary('remove old segments the newest snapshot covers, per the retention policy')
    .description(
      "remove whole segments lying before both the newest snapshot and the retention policy (the store URL's ?retention= and ?retentionBytes=, or the options here); nothing after the newest snapshot is ever removed",
    )
    .addOption(storeOption(ctx.env))
    .option('--dry-run', 'print what would be removed, remove nothing')
    .option('--retention <age>', 'remove segments whose newest record is older than this (7d, 12h, 30m, 90s)')
    .option('--retention-bytes <size>', 'remove the oldest segments while the log keeps more (10GiB, 512MiB)')
    .option('--json', 'print {dryRun, snapshot, segments, bytes, first} as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ eventy compact --dry-run --retention 7d
  $ eventy compact --store 'file:/var/lib/app/log?retention=7d&retentionBytes=10GiB'`,
    )
    .action((o: CompactCliOptions) => compact(ctx, o));
}

function policyOf(o: CompactCliOptions): RetentionPolicy | undefined {
  if (o.retention === undefined && o.retentionBytes === undefined) return undefined;
  return {
    ...(o.retention !== undefined && { maxAgeMs: parseDuration('--retention', o.retention) }),
    ...(o.retentionBytes !== undefined && {
      maxBytes: parseByteSize('--retention-bytes', o.retentionBytes),
    }),
  };
}

async function run(store: LogStore, o: CompactCliOptions): Promise<CompactReport> {
  const dryRun = o.dryRun === true;
  const policy = policyOf(o) ?? store.retention;
  const [newest] = await store.listSnapshots();
  const first = await store.first();
  const none = { dryRun, segments: 0, bytes: 0, first };
  if (newest === undefined) {
    return {
      ...none,
      snapshot: null,
      reason: 'the log has no snapshot: nothing can be removed (eventy snapshot writes one)',
    };
  }
  const snapshot = { position: newest.position, ref: newest.ref };
  if (policy === undefined) {
    return {
      ...none,
      snapshot,
      reason: 'no retention policy: give --retention / --retention-bytes or ?retention= in the store URL',
    };
  }
  const r = await store.compact({ keepFrom: newest.position + 1, policy, dryRun });
  return { dryRun, snapshot, segments: r.segments, bytes: r.bytes, first: r.first };
}

async function compact(ctx: CliContext, o: CompactCliOptions): Promise<void> {
  // Checked before the store is opened: a bad value is a usage error, not a half-done compaction.
  policyOf(o);
  const report = await withExistingStore(o.store, (store) => run(store, o));
  if (o.json) {
    await writeLine(ctx.stdout, toJson(report));
    return;
  }
  if (report.reason !== undefined) {
    await writeLine(ctx.stdout, `nothing removed: ${report.reason}`);
    return;
  }
  const verb = report.dryRun ? 'would remove' : 'removed';
  await writeLine(
    ctx.stdout,
    `${verb} ${formatCount(report.segments)} segment(s), ${formatCount(report.bytes)} bytes, before the snapshot at position ${report.snapshot?.position ?? 0}; the log ${report.dryRun ? 'would start' : 'now starts'} at position ${report.first}`,
  );
}
