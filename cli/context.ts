import type { Readable, Writable } from 'node:stream';

/** A stream the CLI writes to, with what a terminal tells about itself. */
export type OutStream = Writable & { readonly isTTY?: boolean; readonly columns?: number };

/**
 * What a command gets from `main.ts`: its streams, environment and stop signal. Commands never touch
 * `process` for these, so they stay free of side effects and testable.
 */
export interface CliContext {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on the first SIGINT/SIGTERM: commands stop cleanly. */
  readonly signal: AbortSignal;
  /** Runs `handler` on a second signal, just before the process exits with 130 (force). */
  onForce(handler: () => void): void;
  /** Node's arguments and the CLI's entry script: how to start a worker process running this CLI. */
  readonly execArgv: readonly string[];
  readonly entry: string;
  /** Sends a message to the parent process when this one was spawned with an IPC channel. */
  send?: ((message: unknown) => void) | undefined;
}
