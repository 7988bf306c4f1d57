// The README's Quick start, run as a user pastes it: its code block is written to a temp folder as
// quickstart.mts, `eventy` resolves to this package (a node_modules link to the repo, so through the
// exports map to the built dist/), and tsx runs it with its `file:.eventy` store in that folder. It is
// also type-checked against the built declarations, as a user's editor would.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, root } from '../support/cli.js';

const README = readFileSync(join(root, 'README.md'), 'utf8');
const DEADLINE_MS = 45_000;
/** Run alone after a source change, the file builds the package first (`npm test` has built it). */
const BUILD_MS = 240_000;

/** The first fenced code block (its language and body) after the heading `heading`. */
function codeBlockAfter(heading: string): { lang: string; code: string } {
  const at = README.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no heading "${heading}"`);
  const m = /\n```(\w*)\n([\s\S]*?)\n```\n/.exec(README.slice(at));
  if (!m) throw new Error(`README.md has no code block under "${heading}"`);
  return { lang: m[1] ?? '', code: m[2] ?? '' };
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, killed (and reported) past the deadline. */
function run(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.EVENTY_STORE;
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} ran past ${DEADLINE_MS} ms:\n${stdout}\n${stderr}`));
    }, DEADLINE_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('README.md', () => {
  let dir = '';
  const quickStart = codeBlockAfter('## Quick start');

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'eventy-readme-'));
    await mkdir(join(dir, 'node_modules'));
    await symlink(root, join(dir, 'node_modules', 'eventy'), 'dir');
    await writeFile(join(dir, 'quickstart.mts'), quickStart.code);
  }, BUILD_MS);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts with the command that runs the demo and the one that runs the tests', () => {
    const first = /^# [^\n]+\n+```sh\n([\s\S]*?)\n```/.exec(README)?.[1] ?? '';
    const commands = first.split('\n').map((line) => line.replace(/#.*/, '').trim());
    expect(commands).toEqual(['npx eventy demo', 'npm test']);
  });

  it('has a Quick start that runs as pasted and prints what its comment says', async () => {
    expect(quickStart.lang).toBe('ts');
    expect(quickStart.code).toMatch(/from 'eventy'/);
    // The line that prints carries the expected output as its comment.
    const printed = /console\.log\(.*\); \/\/ (.+)$/m.exec(quickStart.code)?.[1];
    expect(printed, 'a console.log line with the expected output as its comment').toBeDefined();

    const tsx = join(root, 'node_modules', '.bin', 'tsx');
    const r = await run(tsx, ['quickstart.mts'], dir);
    expect(r.stderr).toBe('');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    expect(r.stdout.trim()).toBe(printed);
    // It ran on its default store, the filesystem, in the folder it was started in.
    expect(existsSync(join(dir, '.eventy'))).toBe(true);
  });

  it('has a Quick start that type-checks against the built package', async () => {
    const tsconfig = {
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023', 'ESNext.Disposable'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['quickstart.mts'],
    };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const r = await run(
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
      dir,
    );
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
