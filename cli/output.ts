import { once } from 'node:events';
import type { OutStream } from './context.js';

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;

/** A colour (or style) name of {@link Painter}. */
export type Colour = keyof typeof CODES;

/** Paints text with ANSI styles, or leaves it plain when colour is off. */
export type Painter = (colour: Colour, text: string) => string;

/** Colour only on a terminal, and never with `NO_COLOR` set or `TERM=dumb`; `FORCE_COLOR` turns it on. */
export function colourEnabled(stream: OutStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function painter(enabled: boolean): Painter {
  if (!enabled) return (_colour, text) => text;
  return (colour, text) => {
    const [on, off] = CODES[colour];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  };
}

// eslint-disable-next-line no-control-regex -- ANSI escape sequences start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

/** Visible width of a string (ANSI styles do not count). */
export function width(text: string): number {
  return text.replace(ANSI, '').length;
}

// eslint-disable-next-line no-control-regex -- the C0 controls, DEL and the C1 controls
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex -- the same, but line breaks and tabs of our own layout
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function escapeControl(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * Text from users or records (names, headers, keys, ids, error messages), safe on a terminal: every
 * control character, line breaks included, shown escaped (`\u001b`, `\n`), so nothing a record holds
 * can move the cursor, clear the screen, set the title or break the line layout.
 */
export function safe(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/**
 * A whole line of human output made safe: control characters escaped except our own line breaks, tabs
 * and colour codes (SGR sequences such as the {@link painter}'s). The last line of defence behind
 * {@link safe} on each field: whatever a renderer missed still cannot drive the terminal.
 */
export function safeLine(line: string, layout = true): string {
  const control = layout ? CONTROL_BUT_LAYOUT : CONTROL;
  let out = '';
  let last = 0;
  for (const m of line.matchAll(ANSI)) {
    out += line.slice(last, m.index).replace(control, escapeControl) + m[0];
    last = m.index + m[0].length;
  }
  return out + line.slice(last).replace(control, escapeControl);
}

/**
 * Writes a line of human output (made {@link safeLine | safe}), waiting when the stream's buffer is full
 * (a slow pipe) so memory stays bounded.
 */
export async function writeLine(stream: OutStream, line: string): Promise<void> {
  if (!stream.write(`${safeLine(line)}\n`)) await once(stream, 'drain');
}

/** JSON that never throws on log values: bigints as strings, bytes as base64, Maps and Sets as JSON. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
    if (v instanceof Map) return Object.fromEntries(v as Map<unknown, unknown>) as unknown;
    if (v instanceof Set) return [...(v as Set<unknown>)];
    return v;
  });
}

/** A log time as the CLI prints it: ISO 8601 in UTC, to the millisecond. */
export function formatTime(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : '-';
}

/** A duration in ms, short: `850ms`, `12.5s`, `3m05s`, `2h10m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const sign = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)}ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(a < 10_000 ? 2 : 1)}s`;
  if (a < 3_600_000) {
    const m = Math.floor(a / 60_000);
    return `${sign}${m}m${String(Math.floor((a % 60_000) / 1000)).padStart(2, '0')}s`;
  }
  const h = Math.floor(a / 3_600_000);
  return `${sign}${h}h${String(Math.floor((a % 3_600_000) / 60_000)).padStart(2, '0')}m`;
}

/** A count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A JSON preview of a value, cut to `max` characters. */
export function preview(value: unknown, max = 60): string {
  const text = value === undefined ? 'undefined' : toJson(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Lays rows out in columns under a header; numbers (right-aligned) in the columns listed in `right`. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  paint: Painter,
  right: readonly number[] = [],
): string[] {
  // A cell is one line: a line break or tab in a name or message would break the columns.
  rows = rows.map((r) => r.map((cell) => safeLine(cell, false)));
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const pad = (cell: string, i: number): string => {
    const gap = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(cell)));
    return right.includes(i) ? gap + cell : cell + gap;
  };
  const line = (cells: readonly string[]): string => cells.map(pad).join('  ').trimEnd();
  return [paint('bold', line(header)), ...rows.map(line)];
}
