import type { IPublishPacket } from 'mqtt';
import { ErrorCodes } from '../errors.js';
import type { RedeliveryWatch } from '../message/dispatcher.js';
import { messageKey } from '../message/message-key.js';
import type { WorkerMessage } from './ipc.js';

/**
 * The worker's side of crash-poison detection. Every redelivered (DUP) message is reported to the parent
 * (`message.started`) before its handler runs, and again when it settles, so that if the process dies meanwhile
 * (a signal, the OOM killer, an exception outside the handler) the parent knows it was in hand, whatever the last
 * heartbeat said. A first delivery (no DUP) costs no IPC: its death is known only from the last heartbeat (or
 * the worker's last words on an uncaught exception), which is why only redeliveries are watched this closely.
 *
 * A redelivered message that `crashed` lists (this slot's processes died with it in hand `maxCrashes` times)
 * is dead-lettered with `RMQ_ERR_HANDLER_CRASHED` instead of being run.
 *
 * @param crashed - `[messageKey, deaths]` pairs, from the worker's assignment.
 */
export function reportRedeliveries(
  send: (message: WorkerMessage) => void,
  crashed: readonly (readonly [key: string, deaths: number])[],
  maxCrashes: number,
): RedeliveryWatch {
  const deathsByKey = new Map(crashed);
  /** Keys of the redelivered messages running now (a packet settles once): at most the worker's concurrency. */
  const running = new Map<IPublishPacket, string>();
  return {
    starting(packet) {
      const key = messageKey(packet);
      running.set(packet, key);
      const deaths = deathsByKey.get(key);
      if (deaths === undefined) {
        send({ type: 'message.started', key });
        return undefined;
      }
      return {
        code: ErrorCodes.HANDLER_CRASHED,
        message:
          `The worker process died ${deaths} times with this message in hand (ROUTEMQ_MAX_CRASHES=${maxCrashes}); ` +
          'dead-lettered without running it again',
        attempts: deaths,
      };
    },
    settled(packet, acked) {
      const key = running.get(packet) ?? messageKey(packet);
      running.delete(packet);
      if (acked) deathsByKey.delete(key);
      send({ type: 'message.settled', key, acked });
    },
  };
}
