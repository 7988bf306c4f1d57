import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function define(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// Shared by the scripts. Numbers are written with %d: Lua's default number format switches to
// exponents past 14 digits. `cbor_number` writes a non-negative integer exactly as cbor-x does: the
// shortest unsigned form up to 2^32 - 1, a float64 above (both stores then hold the same bytes).
const HELPERS = String.raw`
local function fmt(n) return string.format('%d', n) end
local function cbor_number(n)
  if n < 24 then return string.char(n) end
  if n < 256 then return '\24' .. string.char(n) end
  if n < 65536 then return '\25' .. struct.pack('>I2', n) end
  if n < 4294967296 then return '\26' .. struct.pack('>I4', n) end
  return '\251' .. struct.pack('>d', n)
end
local m = redis.call('HMGET', KEYS[1], 'head', 'time', 'seg', 'first', 'id', 'epoch')
local head = tonumber(m[1]) or 0
local last = tonumber(m[2]) or 0
`;

/**
 * Appends one or more batches, each atomically, in one round trip (the store groups concurrent appends).
 * KEYS: meta hash, segment key prefix. ARGV: segment size for a new log, then all batches packed in one
 * argument (see `packBatches`): per batch its expected head (-1 for none) and record count, then each
 * record's CBOR cut before the values of `position` and `time` (see `encodeDraft`), length-prefixed;
 * then the identity the handle knows (id, epoch) and the least head it may find (the positions it saw).
 *
 * A log with another identity, or none (a server restarted empty, the keys deleted), or a head below
 * that least one (a server rolled back) gets nothing: the script returns `{-1, head, id, epoch}` as
 * found, so that no append is acknowledged into a log the handle does not know.
 *
 * For each batch in turn the script checks the expected head and XADDs each record at the next position
 * in the segment stream of that position, at id `<position>-2`, the batch's last at `<position>-1` (see
 * `entryId`), after writing `hposition <position> dtime <time>` (the CBOR text keys `position` and
 * `time` with their values) after the record's bytes. The time is the server clock's, never below the
 * log's last time, one for the whole call. Returns `{time, seg, status1, head1, status2, head2, …}`:
 * status 0 and the batch's first position, or status 1 and the head it conflicted with.
 */
export const APPEND = define(
  HELPERS +
    String.raw`
if m[5] ~= ARGV[3] or m[6] ~= ARGV[4] or head < tonumber(ARGV[5]) then
  return {-1, head, m[5] or '', m[6] or ''}
end
local seg = tonumber(m[3]) or tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if last > now then now = last end
local tail = 'dtime' .. cbor_number(now)
local out = {now, seg}
local appended = false
local packed = ARGV[2]
local at = 1
while at <= #packed do
  local expected, n, len
  expected, n, at = struct.unpack('>dI4', packed, at)
  if expected >= 0 and expected ~= head then
    for k = 1, n do
      len, at = struct.unpack('>I4', packed, at)
      at = at + len
    end
    out[#out + 1] = 1
    out[#out + 1] = head
  else
    for k = 1, n do
      len, at = struct.unpack('>I4', packed, at)
      local p = head + k - 1
      local id = fmt(p) .. (k == n and '-1' or '-2')
      local record = string.sub(packed, at, at + len - 1) .. 'hposition' .. cbor_number(p) .. tail
      redis.call('XADD', KEYS[2] .. fmt(p - p % seg), id, 'r', record)
      at = at + len
    end
    out[#out + 1] = 0
    out[#out + 1] = head
    head = head + n
    appended = true
  end
end
if appended then
  redis.call('HSET', KEYS[1], 'head', fmt(head), 'time', fmt(now), 'seg', fmt(seg))
end
return out
`,
);

/**
 * Copies records stamped elsewhere, keeping their bytes. KEYS: meta hash, segment key prefix.
 * ARGV: position of the first record, largest time of the batch, segment size for a new log, '1' when
 * an empty log may start at that position (an import of a log whose older history was dropped), the
 * id sequence of each record as one string of '1' / '2' (see `entryId`), then each record's CBOR.
 * Returns `{0, head}`, or `{1, head}` when the records do not continue the log.
 */
export const REPLICATE = define(
  HELPERS +
    String.raw`
local from = tonumber(ARGV[1])
local fresh = ARGV[4] == '1' and head == 0
if from ~= head and not fresh then return {1, head} end
local seg = tonumber(m[3]) or tonumber(ARGV[3])
for i = 6, #ARGV do
  local p = from + i - 6
  local id = fmt(p) .. '-' .. string.sub(ARGV[5], i - 5, i - 5)
  redis.call('XADD', KEYS[2] .. fmt(p - p % seg), id, 'r', ARGV[i])
end
local time = tonumber(ARGV[2])
if last > time then time = last end
redis.call('HSET', KEYS[1], 'head', fmt(from + #ARGV - 5), 'time', fmt(time), 'seg', fmt(seg))
if from ~= head then redis.call('HSET', KEYS[1], 'first', fmt(from)) end
return {0, head}
`,
);

/**
 * Drops whole segments whose records all lie before ARGV[1] (and before the head). KEYS: meta hash,
 * segment key prefix. Returns `{dropped, first}`: how many segments went and the first position kept.
 */
export const DROP = define(
  HELPERS +
    String.raw`
local seg = tonumber(m[3])
local first = tonumber(m[4]) or 0
if not seg then return {0, first} end
local limit = math.min(tonumber(ARGV[1]), head)
local base = first - first % seg
local dropped = 0
while base + seg <= limit do
  redis.call('UNLINK', KEYS[2] .. fmt(base))
  dropped = dropped + 1
  base = base + seg
end
if dropped > 0 then
  first = base
  redis.call('HSET', KEYS[1], 'first', fmt(first))
end
return {dropped, first}
`,
);

/**
 * Runs a script by its SHA1; on NOSCRIPT (a restarted or flushed server) sends its source once.
 * Arguments go as one array: ioredis flattens it, and a spread of a big batch could overflow the stack.
 */
export async function runScript(
  client: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | Buffer)[],
): Promise<unknown> {
  const argv = [...keys, ...args];
  try {
    return await client.evalsha(script.sha, keys.length, argv);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
    return client.eval(script.lua, keys.length, argv);
  }
}

/** Reads a script's reply: an array of integers. */
export function integers(reply: unknown): number[] {
  const out: number[] = [];
  for (const n of Array.isArray(reply) ? (reply as unknown[]) : [reply]) {
    if (typeof n !== 'number') {
      throw new Error(`eventy redis store: unexpected script reply ${JSON.stringify(reply)}`);
    }
    out.push(n);
  }
  return out;
}
