/**
 * @module
 * How a worker process ended, as its parent records it ({@link WorkerExit}, gathered by {@link ExitRecorder} while
 * the worker runs), and what that end means: a requested stop, a crash or a failed start ({@link exitCause}), a
 * session takeover ({@link isTakeoverExit}), and the error of a worker that ended before it was ready
 * ({@link notReadyError}). The supervisor, the restart policy and the crash-poison count read exits from here.
 */
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { InHandMessage } from '../message/dispatcher.js';
import { WorkerExitCodes } from './ipc.js';

/** How a worker process ended. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the parent asked it to stop. */
  readonly requested: boolean;
  /** The failure the worker reported before exiting, if any. */
  readonly failure: { readonly code: string; readonly message: string } | undefined;
  /** Whether it had become ready: false for a worker that failed to start. */
  readonly wasReady: boolean;
  /** How long it was ready, in ms (0 when it never was). */
  readonly readyForMs: number;
  /** How long it ran, from fork to exit, in ms. */
  readonly ranForMs: number;
  /** The oldest messages it had in hand at its last heartbeat (empty if none, or never ready). */
  readonly inHand: readonly InHandMessage[];
  /**
   * Whether it had been handling messages: it reported a redelivered message in hand. A worker of a resumed
   * session may get (and die of) its messages before its SUBACK, so before `ready`: it started all the same.
   */
  readonly handled: boolean;
  /**
   * The identities (`messageKey`) of the messages known to be in hand when it ended: the redelivered ones it
   * reported before running them and has not settled, and those of its last heartbeat (which may be stale).
   */
  readonly heldKeys: readonly string[];
  /**
   * Whether it ended its session before exiting cleanly (code 0): a `leave` that drained and told the broker to
   * drop the session. False for a kept session and for any other end (a crash, a kill, a failed exit).
   */
  readonly sessionEnded: boolean;
}

/**
 * What a worker's exit record needs that only its life can tell, gathered as it runs: when it was forked, whether
 * its parent asked it to stop, the failure it reported, and the redelivered messages it reported in hand. Its
 * readiness and last heartbeat are the worker process's, passed to {@link record}.
 */
export class ExitRecorder {
  readonly #forkedAt = Date.now();
  /**
   * Redelivered messages it reported in hand (`message.started`) and has not settled: at most its concurrency
   * (a worker that never settles them still runs at most that many at once).
   */
  readonly #redelivered = new Set<string>();
  #handled = false;
  #failure: { code: string; message: string } | undefined;
  #requested = false;
  #sessionEnded = false;

  /** Its parent asked it to stop. */
  stopRequested(): void {
    this.#requested = true;
  }

  /** It reported why it is about to exit (`failed`). */
  failed(failure: { code: string; message: string }): void {
    this.#failure = failure;
  }

  /** It reported a redelivered message in hand (`message.started`): it has been handling messages. */
  started(key: string): void {
    this.#handled = true;
    this.#redelivered.add(key);
  }

  /** It reported that it ended its session (`session.ended`), about to exit. */
  sessionEnded(): void {
    this.#sessionEnded = true;
  }

  /** It settled a redelivered message it had reported (`message.settled`). */
  settled(key: string): void {
    this.#redelivered.delete(key);
  }

  /**
   * The record of its exit, now.
   *
   * @param readyAt - `Date.now()` when it became ready, or 0.
   * @param inHand - the oldest messages it had in hand at its last heartbeat.
   */
  record(
    code: number | null,
    signal: NodeJS.Signals | null,
    readyAt: number,
    inHand: readonly InHandMessage[],
  ): WorkerExit {
    const exit: WorkerExit = {
      code,
      signal,
      requested: this.#requested,
      failure: this.#failure,
      wasReady: readyAt > 0,
      readyForMs: readyAt > 0 ? Date.now() - readyAt : 0,
      ranForMs: Date.now() - this.#forkedAt,
      inHand,
      handled: this.#handled,
      heldKeys: [...new Set([...this.#redelivered, ...inHand.map((m) => m.key)])],
      sessionEnded: this.#sessionEnded && code === WorkerExitCodes.ok && signal === null,
    };
    return exit;
  }
}

/** Why a worker ended: asked to; died after it had started (ready, or handling messages); or never started. */
export type ExitCause = 'requested' | 'crash' | 'failed-start';

/** See {@link ExitCause}. */
export function exitCause(exit: WorkerExit): ExitCause {
  if (exit.requested) return 'requested';
  return exit.wasReady || exit.handled ? 'crash' : 'failed-start';
}

/** True when the exit means "another client took the slot's id": restarting would start a kick war. */
export function isTakeoverExit(exit: WorkerExit): boolean {
  return exit.code === WorkerExitCodes.sessionTakenOver;
}

/**
 * The error of worker `workerId`, which ended before it was ready: `RMQ_ERR_WORKER_CRASHED` when it had been
 * handling its resumed session's messages (it started, then crashed), else the code it reported (a route file, the
 * broker), or `RMQ_ERR_WORKER_EXITED` when it exited without one.
 */
export function notReadyError(workerId: string, exit: WorkerExit): RouteMQError {
  const failure = exit.failure;
  if (exit.handled) {
    return new RouteMQError(
      ErrorCodes.WORKER_CRASHED,
      `Worker ${workerId} crashed while handling messages of its session, before its subscription was ` +
        `confirmed: ${failure?.message ?? `exited with ${exit.signal ?? String(exit.code)}`}`,
    );
  }
  return new RouteMQError(
    (failure?.code as ErrorCode | undefined) ?? ErrorCodes.WORKER_EXITED,
    `Worker ${workerId} failed to start: ${failure?.message ?? `exited with ${exit.signal ?? String(exit.code)}`}`,
  );
}
