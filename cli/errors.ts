import { CommanderError, InvalidArgumentError as CommanderArgumentError } from 'commander';
import { isEventyError } from '../index.js';

/** A bad flag, argument or value: the message is printed alone and the exit code is 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A check that found problems (verify): its report is already printed; exit code 1. */
export class FailedCheck extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FailedCheck';
  }
}

/** 2 for bad input, 130 for a stop by signal, 1 for everything else that went wrong. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) {
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
  }
  if (e instanceof Error && typeof (e as { exitCode?: unknown }).exitCode === 'number') {
    return (e as unknown as { exitCode: number }).exitCode;
  }
  if (e instanceof UsageError || e instanceof CommanderArgumentError) return 2;
  if (isEventyError(e, 'invalid-argument') || isEventyError(e, 'validation-failed')) return 2;
  if (isEventyError(e, 'aborted')) return 130;
  return 1;
}

/** One line for a failure: the message, its first line only, with the cause's when it adds something. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const first = (e.message.split('\n')[0] ?? '').trim() || e.name;
  const cause = e.cause instanceof Error ? e.cause.message.split('\n')[0] : undefined;
  return cause !== undefined && cause !== '' && !first.includes(cause) ? `${first}: ${cause}` : first;
}
