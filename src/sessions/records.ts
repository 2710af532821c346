/**
 * @module
 * The session registry's records and topics. Every persistent session RouteMQ creates (each worker slot and each
 * main process) has a retained record on the broker, so every instance of the app can see it without Redis:
 *
 * - `<prefix>/<app>/<group>/instances/<instanceId>`: {@link InstanceRecord}, the owner's presence. Published
 *   `live` at start, `away` at a graceful stop, and `away` by the broker (the registry connection's will) when the
 *   process dies.
 * - `<prefix>/<app>/<group>/sessions/<clientId>`: {@link SessionRecord}, one per session. Removed (an empty retained
 *   message) once the session is ended.
 * - `<prefix>/<app>/<group>/claims/<clientId>`: {@link ClaimRecord}, who is adopting an orphaned session.
 *
 * See docs/sessions.md for the design and its failure modes.
 */

/** Record format version; a record of another version is ignored. */
export const RECORD_VERSION = 1;

/** An instance's presence. */
export interface InstanceRecord {
  readonly v: typeof RECORD_VERSION;
  readonly kind: 'instance';
  readonly app: string;
  readonly group: string;
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  /** A hash of the route set this instance runs (its deploy). */
  readonly deploy: string;
  readonly state: 'live' | 'away';
  /** `Date.now()` of the change; `null` in the will (the broker publishes it later, at the death). */
  readonly changedAt: number | null;
  /** A random id of this process's run: a restart is a new run. */
  readonly run: string;
}

/** One persistent session. */
export interface SessionRecord {
  readonly v: typeof RECORD_VERSION;
  readonly kind: 'session';
  readonly app: string;
  readonly group: string;
  readonly clientId: string;
  readonly instance: string;
  /** The pool, or `'main'` for the main process's session. */
  readonly pool: string;
  readonly slot: number;
  /** What the session subscribes to (`$share/<group>/<filter>` for pools). */
  readonly filters: readonly string[];
  readonly deploy: string;
  /** The owner's run that last published it. */
  readonly run: string;
  /** `live` while its owner runs it, `leaving` while it drains for good (scale-down, adoption). */
  readonly state: 'live' | 'leaving';
  readonly changedAt: number;
}

/** An adoption in progress. */
export interface ClaimRecord {
  readonly v: typeof RECORD_VERSION;
  readonly kind: 'claim';
  readonly clientId: string;
  /** The adopting instance. */
  readonly by: string;
  /** The adopter's run (a claim of a run that is no longer live is void). */
  readonly run: string;
  readonly at: number;
}

/** Any record. */
export type RegistryRecord = InstanceRecord | SessionRecord | ClaimRecord;

/** The topics of one app and group's registry. */
export interface RegistryTopics {
  readonly root: string;
  instance(instanceId: string): string;
  session(clientId: string): string;
  claim(clientId: string): string;
  /** What a registry connection subscribes to: every record of this app and group. */
  readonly all: string;
  /** Which record (or read-barrier marker) a topic under {@link root} names; `undefined` for anything else. */
  parse(topic: string): { readonly kind: RegistryTopicKind; readonly key: string } | undefined;
}

/** The kinds of topic under a registry's root. */
export type RegistryTopicKind = 'instances' | 'sessions' | 'claims' | 'sync';

const TOPIC_KINDS: ReadonlySet<string> = new Set(['instances', 'sessions', 'claims', 'sync']);

/** Build the topics under `<prefix>/<app>/<group>`. */
export function registryTopics(prefix: string, app: string, group: string): RegistryTopics {
  const root = `${prefix}/${app}/${group}`;
  return {
    root,
    instance: (id) => `${root}/instances/${id}`,
    session: (id) => `${root}/sessions/${id}`,
    claim: (id) => `${root}/claims/${id}`,
    all: `${root}/#`,
    parse: (topic) => {
      if (!topic.startsWith(`${root}/`)) return undefined;
      const rest = topic.slice(root.length + 1);
      const slash = rest.indexOf('/');
      const kind = rest.slice(0, slash);
      return slash > 0 && TOPIC_KINDS.has(kind)
        ? { kind: kind as RegistryTopicKind, key: rest.slice(slash + 1) }
        : undefined;
    },
  };
}

/**
 * Parse a retained record. `undefined` for an empty payload (a removed record), a record of another version, or
 * anything that is not a record: a registry never trusts what it reads.
 */
export function parseRecord(payload: Buffer | string): RegistryRecord | undefined {
  const text = payload.toString();
  if (text.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<RegistryRecord> & Record<string, unknown>;
  if (r.v !== RECORD_VERSION) return undefined;
  switch (r.kind) {
    case 'instance':
      return typeof r['instance'] === 'string' && (r['state'] === 'live' || r['state'] === 'away')
        ? (r as InstanceRecord)
        : undefined;
    case 'session':
      return typeof r['clientId'] === 'string' && Array.isArray(r['filters']) ? (r as SessionRecord) : undefined;
    case 'claim':
      return typeof r['clientId'] === 'string' && typeof r['by'] === 'string' ? (r as ClaimRecord) : undefined;
    default:
      return undefined;
  }
}
