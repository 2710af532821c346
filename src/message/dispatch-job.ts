import type { IPublishPacket } from 'mqtt';
import type { RouteDefinition } from '../router/route-table.js';
import type { AckTicket } from './ack-sequencer.js';

/** One message in hand: waiting, then running (a node of the dispatcher's list of running jobs, oldest first). */
export class Job {
  declare prev: Job | undefined;
  declare next: Job | undefined;
  declare startedAt: number;
  /** `Date.now()` when it had to wait for a slot (0 when it started at once: then it was received at `startedAt`). */
  declare queuedAt: number;
  /** Route runs not yet settled (more than one when several routes on the winning filter run here). */
  declare pending: number;
  /** False once any route run said `hold`. */
  declare ack: boolean;
  declare readonly packet: IPublishPacket;
  declare readonly routes: readonly RouteDefinition[];
  declare readonly captures: readonly string[];
  declare readonly ticket: AckTicket | undefined;

  // `declare` fields and plain assignments, not field initialisers: V8 runs those as a function of their own, one
  // more call per object and one more function to optimise (callgrind: -1.4% instructions per message on the cold
  // dispatch path). A field declared without `declare` is still a class field (target ES2022) that the same
  // function defines as undefined before the constructor runs (dropping those, with Try's: -1.2%).
  constructor(
    packet: IPublishPacket,
    routes: readonly RouteDefinition[],
    captures: readonly string[],
    ticket: AckTicket | undefined,
  ) {
    this.prev = undefined;
    this.next = undefined;
    this.startedAt = 0;
    this.queuedAt = 0;
    this.pending = 0;
    this.ack = true;
    this.packet = packet;
    this.routes = routes;
    this.captures = captures;
    this.ticket = ticket;
  }
}
