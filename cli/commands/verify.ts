import { basename } from 'node:path';
import type { Command } from 'commander';
import {
  dispatchFold,
  isEventyError,
  type LogStore,
  type Position,
  type StorageFinding,
} from '../../index.js';
import { storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { FailedCheck, UsageError } from '../errors.js';
import { InvariantChecker, type Violation } from '../../index.js';
import { colourEnabled, formatCount, painter, safe, toJson, writeLine } from '../output.js';
import { progressBar } from '../progress.js';
import { checkSnapshots, type SnapshotCheck } from '../snapshot-check.js';
import { segmentsOf, withExistingStore } from '../store.js';

interface VerifyOptions {
  store: string;
  json?: boolean;
  repair?: boolean;
}

/** A stored record that failed its checks. */
interface Corruption {
  readonly segment: string;
  readonly offset: number;
  /** The last good position before it (-1: none). */
  readonly after: Position;
  /** Positions that could not be read because of it, when the next segment tells where they end. */
  readonly unreadable: { readonly from: Position; readonly to: Position } | null;
  readonly message: string;
}

interface Report {
  readonly store: string;
  readonly ok: boolean;
  readonly head: Position;
  readonly records: number;
  readonly segments: number | null;
  readonly corruptions: Corruption[];
  readonly violations: readonly Violation[];
  /** Invariants hold up to this position (they are not checked past a corruption). */
  readonly checkedUpTo: Position;
  readonly claims: number;
  readonly results: number;
  /** How the log is kept (gaps, missing segments, a cut or torn tail, bad indexes); null: not checked. */
  readonly storage: readonly StorageFinding[] | null;
  /** What `--repair` mended before the checks. */
  readonly repaired: readonly StorageFinding[];
  /** Each snapshot against a fold of the log. */
  readonly snapshots: readonly SnapshotCheck[];
}

const badSnapshot = (c: SnapshotCheck): boolean => c.status === 'mismatch' || c.status === 'corrupt';

/** A torn tail is a crashed write, never acknowledged: noted, not a fault (the next append cuts it). */
const fault = (f: StorageFinding): boolean => f.kind !== 'torn-tail';

/** `eventy verify`: every segment's framing, CRCs and order, and the log's dispatch invariants. */
export function verifyCommand(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .summary("check the log's segments and invariants")
    .description(
      "check every segment (framing, CRC, order) and the log's invariants; exit 1 naming positions when wrong",
    )
    .addOption(storeOption(ctx.env))
    .option('--json', 'print the report as JSON')
    .option(
      '--repair',
      'first rebuild bad indexes and cut an incomplete tail (records in a cut tail are lost)',
    )
    .addHelpText(
      'after',
      `
Invariants: at most one live claim per event and subscriber at any point; every accepted result comes
from the claim holding the lease; a fenced (late) result changes no count. A torn record at the very end
(a crashed writer) is not corruption: readers ignore it and the next append replaces it. On the
filesystem, verify also checks how the log is kept: the first segment starts at position 0, no
positions are missing between segments, the segment of the last write is there and was not cut,
and every index entry points at its record. Every snapshot is decoded and compared with a fold of
the log from the previous one (or from position 0 while the log holds it). --repair rebuilds bad indexes and cuts an incomplete
tail; cutting bytes of a completed write loses records and raises the log's epoch, so running
workers stop with log-diverged and restart on the repaired log.

Exit codes: 0 the log is sound, 1 corruption or a broken invariant (listed with positions).

Examples:
  $ eventy verify
  $ eventy verify --store file:/var/lib/app/log --json | jq .violations
  $ eventy verify --repair`,
    )
    .action((o: VerifyOptions) => verify(ctx, o));
}

async function verify(ctx: CliContext, o: VerifyOptions): Promise<void> {
  // A repair that cuts records raises the log's epoch: the checks run on a handle opened after it.
  const repaired = o.repair
    ? await withExistingStore(o.store, async (store) => {
        if (!store.repairStorage)
          throw new UsageError(`--repair: the store ${store.url} keeps no files to repair`);
        return store.repairStorage();
      })
    : [];
  const report = await withExistingStore(o.store, async (store) => {
    const storage = (await store.checkStorage?.()) ?? null;
    const checked = await check(ctx, store);
    const snapshots = await checkSnapshots(store, ctx.signal);
    const ok = checked.ok && !(storage ?? []).some(fault) && !snapshots.some(badSnapshot);
    return { ...checked, ok, storage, repaired, snapshots };
  });
  if (o.json) await writeLine(ctx.stdout, toJson(report));
  else
    for (const line of render(report, painter(colourEnabled(ctx.stdout, ctx.env))))
      await writeLine(ctx.stdout, line);
  const faults = report.storage?.filter(fault).length ?? 0;
  const bad = report.snapshots.filter(badSnapshot).length;
  if (!report.ok) {
    throw new FailedCheck(
      `${report.corruptions.length} corruption(s), ${report.violations.length} invariant violation(s)` +
        (faults > 0 ? `, ${faults} storage fault(s)` : '') +
        (bad > 0 ? `, ${bad} bad snapshot(s)` : ''),
    );
  }
}

async function check(
  ctx: CliContext,
  store: LogStore,
): Promise<Omit<Report, 'storage' | 'repaired' | 'snapshots'>> {
  // Finding the head reads the tail of the log: when that is damaged, read to the end all the same.
  const head = await store.head().catch((e: unknown) => {
    if (isEventyError(e, 'corrupt-record')) return undefined;
    throw e;
  });
  const to = head ?? Number.MAX_SAFE_INTEGER;
  const segments = await segmentsOf(store);
  const claims = dispatchFold.initial();
  const checker = new InvariantChecker();
  const corruptions: Corruption[] = [];
  const bar = progressBar(ctx.stderr, 'verify', 'records', head ?? 0);
  // Retention removed what came before `first`: the records kept are read and checked from there; the
  // invariants need the folds from position 0, so on such a log the snapshots' check stands in for them.
  let from = await store.first();
  const invariants = from === 0;
  let records = 0;
  let checkedUpTo = -1;
  let lastRead = -1;
  try {
    for (;;) {
      try {
        for await (const r of store.read({ from, to, signal: ctx.signal })) {
          records++;
          lastRead = r.position;
          if (corruptions.length === 0 && invariants) {
            checker.before(r, claims);
            dispatchFold.evolve(claims, r);
            checker.after(r, claims);
            checkedUpTo = r.position;
          }
          if (records % 16_384 === 0) bar.update(r.position);
        }
        break;
      } catch (e) {
        if (!isEventyError(e, 'corrupt-record')) throw e;
        const { segment, offset, after } = e as unknown as {
          segment: string;
          offset: number;
          after: number | undefined;
        };
        const good = Math.max(after ?? -1, lastRead);
        // Carry on with the next segment, so every damaged one is reported.
        const next = nextSegment(segments, segment, good);
        const resumes = next !== undefined && next > from;
        corruptions.push({
          segment,
          offset,
          after: good,
          unreadable: resumes ? { from: good + 1, to: next - 1 } : null,
          message: e.message,
        });
        if (!resumes) break;
        from = next;
      }
    }
  } finally {
    bar.done();
  }
  return {
    store: store.url,
    ok: corruptions.length === 0 && checker.violations.length === 0,
    head: head ?? checkedUpTo + 1,
    records,
    segments: segments?.length ?? null,
    corruptions,
    violations: checker.violations,
    checkedUpTo,
    claims: checker.claims,
    results: checker.results,
  };
}

/** Base of the segment after the damaged one (by name, else by the last good position). */
function nextSegment(
  segments: { base: number; name: string }[] | undefined,
  damaged: string,
  after: Position,
): number | undefined {
  if (!segments) return undefined;
  const named = segments.find((s) => s.name === damaged || basename(s.name) === basename(damaged));
  const base = named?.base ?? segments.filter((s) => s.base <= after + 1).at(-1)?.base ?? -1;
  return segments.find((s) => s.base > base)?.base;
}

function render(r: Report, paint: ReturnType<typeof painter>): string[] {
  const out = [paint('bold', `verify ${r.store}`)];
  out.push(`  records:    ${formatCount(r.records)}${r.head > 0 ? ` (positions up to ${r.head - 1})` : ''}`);
  if (r.segments !== null) out.push(`  segments:   ${formatCount(r.segments)}`);
  for (const c of r.corruptions) {
    const lost = c.unreadable
      ? `; positions ${c.unreadable.from}–${c.unreadable.to} unreadable`
      : '; the rest of the log unreadable';
    out.push(
      paint(
        'red',
        `  CORRUPT     ${c.message}${c.message.includes('after position') ? '' : ` (after position ${c.after})`}${lost}`,
      ),
    );
  }
  for (const f of r.repaired)
    out.push(paint('yellow', `  REPAIRED    ${f.kind}: ${safe(f.file)}: ${safe(f.message)}`));
  for (const f of r.storage ?? []) {
    const label = fault(f) ? paint('red', `  ${f.kind.toUpperCase().padEnd(11)}`) : `  ${'note'.padEnd(11)}`;
    out.push(`${label} ${safe(f.file)}: ${safe(f.message)}${f.repairable ? ' (--repair mends it)' : ''}`);
  }
  const scope = r.corruptions.length > 0 ? ` up to position ${r.checkedUpTo}` : '';
  out.push(
    `  invariants: ${formatCount(r.claims)} claims and ${formatCount(r.results)} results checked${scope}`,
  );
  for (const v of r.violations)
    out.push(paint('red', `  VIOLATION   position ${v.position}: ${v.kind}: ${v.message}`));
  for (const c of r.snapshots) {
    const label = badSnapshot(c) ? paint('red', `  SNAPSHOT    `) : `  snapshot    `;
    out.push(`${label}${safe(c.ref)} at position ${c.position}: ${c.status}: ${safe(c.message)}`);
  }
  out.push(
    r.ok
      ? paint('green', '✓ the log is sound')
      : paint(
          'red',
          `✗ ${r.corruptions.length} corruption(s), ${r.violations.length} invariant violation(s)` +
            ((r.storage ?? []).some(fault)
              ? `, ${(r.storage ?? []).filter(fault).length} storage fault(s)`
              : '') +
            (r.snapshots.some(badSnapshot)
              ? `, ${r.snapshots.filter(badSnapshot).length} bad snapshot(s)`
              : ''),
        ),
  );
  return out;
}
