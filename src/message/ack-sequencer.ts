import type { IPublishPacket } from 'mqtt';
import { Fifo } from '../util/fifo.js';

/** Sends one ack; returns whether it went out (an ack of an older connection epoch is dropped). */
export type AckSender = (packet: IPublishPacket, epoch: number) => boolean;

/** A message waiting for its ack turn. */
export interface AckTicket {
  readonly packet: IPublishPacket;
  readonly epoch: number;
  settled: boolean;
  /** False when the message must stay unacked so the broker redelivers it. */
  ack: boolean;
}

/**
 * Sends PUBACK/PUBCOMP in arrival order (MQTT 3.1.1 §4.6, v5 §4.6), however the handlers finish. A ticket that
 * settles early waits for the tickets before it. A new connection epoch starts a new sequence: the old one's acks
 * are worthless (the broker redelivers those messages), so they must not hold the new ones back.
 */
export class AckSequencer {
  readonly #send: AckSender;
  #epoch = -1;
  #queue = new Fifo<AckTicket>();

  constructor(send: AckSender) {
    this.#send = send;
  }

  /** Take a ticket for a QoS≥1 message, in arrival order. */
  push(packet: IPublishPacket, epoch: number): AckTicket {
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.#queue = new Fifo<AckTicket>();
    }
    const ticket: AckTicket = { packet, epoch, settled: false, ack: true };
    this.#queue.push(ticket);
    return ticket;
  }

  /** Mark a ticket done, then send every ack that is now at the head of the line. */
  settle(ticket: AckTicket, ack: boolean): void {
    ticket.settled = true;
    ticket.ack = ack;
    if (ticket.epoch !== this.#epoch) return;
    const queue = this.#queue;
    while (queue.peek()?.settled) {
      const head = queue.shift() as AckTicket;
      if (head.ack) this.#send(head.packet, head.epoch);
    }
  }

  /** Tickets of the current epoch not yet acked. */
  get pending(): number {
    return this.#queue.length;
  }
}
