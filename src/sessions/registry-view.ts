import type { ClaimRecord, InstanceRecord, RegistryRecord, SessionRecord } from './records.js';

/** An instance record is stale (its owner presumed gone) when not refreshed for this many refresh periods. */
const STALE_REFRESHES = 3;

/**
 * What one observer knows of the registry: the latest record of each topic, plus when it first saw each instance
 * away or missing (the will carries no time). Pure state, fed by {@link RegistryView.apply}; no I/O.
 */
export class RegistryView {
  readonly instances = new Map<string, InstanceRecord>();
  readonly sessions = new Map<string, SessionRecord>();
  readonly claims = new Map<string, ClaimRecord>();
  /** The first claim since the topic was last empty or void: the one that wins a race. */
  readonly #firstClaims = new Map<string, ClaimRecord>();
  readonly #awaySeenAt = new Map<string, number>();
  /** When a live (not stored) instance record last arrived: freshness that needs no agreement between clocks. */
  readonly #heardAt = new Map<string, number>();
  readonly #refreshMs: number;

  constructor(refreshMs: number) {
    this.#refreshMs = refreshMs;
  }

  /**
   * Take in one record (or a removal: `record` undefined) of `kind` and `key`. `retained` is the MQTT retain flag:
   * a record sent live (not from the broker's store) was fresh when it arrived, whatever the sender's clock says.
   */
  apply(
    kind: 'instances' | 'sessions' | 'claims',
    key: string,
    record: RegistryRecord | undefined,
    now: number,
    retained = false,
  ): void {
    if (kind === 'instances') {
      if (record?.kind === 'instance') {
        this.instances.set(key, record);
        if (!retained) this.#heardAt.set(key, now);
      } else {
        this.instances.delete(key);
        this.#heardAt.delete(key);
      }
    } else if (kind === 'sessions') {
      if (record?.kind === 'session') this.sessions.set(key, record);
      else this.sessions.delete(key);
    } else if (record?.kind === 'claim') {
      this.claims.set(key, record);
      const first = this.#firstClaims.get(key);
      if (!first || !this.claimValid(first, now)) this.#firstClaims.set(key, record);
    } else {
      this.claims.delete(key);
      this.#firstClaims.delete(key);
    }
  }

  /** Is the instance running now: its record says live and was refreshed recently. */
  isLive(instance: string, now: number, run?: string): boolean {
    const r = this.instances.get(instance);
    if (!r || r.state !== 'live' || (run !== undefined && r.run !== run)) return false;
    const fresh = Math.max(r.changedAt ?? 0, this.#heardAt.get(instance) ?? 0);
    return now - fresh < STALE_REFRESHES * this.#refreshMs;
  }

  /**
   * How long the instance has been away, by its own stop time when it stopped gracefully, else from when this
   * observer first saw it away, missing or stale. 0 while it is live.
   */
  awayForMs(instance: string, now: number): number {
    if (this.isLive(instance, now)) {
      this.#awaySeenAt.delete(instance);
      return 0;
    }
    const r = this.instances.get(instance);
    const seen = this.#awaySeenAt.get(instance) ?? now;
    this.#awaySeenAt.set(instance, seen);
    const stoppedAt = r?.state === 'away' && r.changedAt !== null && r.changedAt <= now ? r.changedAt : undefined;
    return now - Math.min(seen, stoppedAt ?? seen);
  }

  /** A claim counts while its adopter's run is live. */
  claimValid(claim: ClaimRecord, now: number): boolean {
    return this.isLive(claim.by, now, claim.run);
  }

  /** The claim that wins for this session, if a valid one exists. */
  winningClaim(clientId: string, now: number): ClaimRecord | undefined {
    const first = this.#firstClaims.get(clientId);
    return first && this.claimValid(first, now) ? first : undefined;
  }
}
