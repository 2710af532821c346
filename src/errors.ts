/**
 * Every error RouteMQ raises on purpose carries a stable `code`. Codes are API: they are listed in
 * `docs/errors.md`, never reused and never renamed.
 */
export const ErrorCodes = {
  /** A configuration value (env var, `.env`, CLI option) is invalid. Every issue is listed in one error. */
  CONFIG_INVALID: 'RMQ_ERR_CONFIG_INVALID',
  /** A topic pattern given to `router.on()` is not valid. */
  PATTERN_INVALID: 'RMQ_ERR_PATTERN_INVALID',
  /** A pattern starts with `$share/`: use the `shared` option instead. */
  PATTERN_SHARE_PREFIX: 'RMQ_ERR_PATTERN_SHARE_PREFIX',
  /** Two routes have the same subscription filter and share group. */
  ROUTE_DUPLICATE: 'RMQ_ERR_ROUTE_DUPLICATE',
  /** A route option (`workerCount`, `qos`, `timeoutMs`, …) is not valid. */
  ROUTE_OPTION_INVALID: 'RMQ_ERR_ROUTE_OPTION_INVALID',
  /** A share-group name does not match `^[A-Za-z0-9_-]{1,64}$`. */
  GROUP_INVALID: 'RMQ_ERR_GROUP_INVALID',
  /** A route file failed to load, threw, or exported nothing usable. */
  ROUTE_FILE_INVALID: 'RMQ_ERR_ROUTE_FILE_INVALID',
  /** The routers directory does not exist or holds no route file. */
  ROUTES_NOT_FOUND: 'RMQ_ERR_ROUTES_NOT_FOUND',
  /** A middleware called `next()` more than once. */
  NEXT_CALLED_TWICE: 'RMQ_ERR_NEXT_CALLED_TWICE',
  /** A handler did not settle within its `timeoutMs`. */
  HANDLER_TIMEOUT: 'RMQ_ERR_HANDLER_TIMEOUT',
  /** A handler (or middleware) threw or rejected. */
  HANDLER_FAILED: 'RMQ_ERR_HANDLER_FAILED',
  /** The payload is larger than `ROUTEMQ_MAX_PAYLOAD_BYTES`. */
  PAYLOAD_TOO_LARGE: 'RMQ_ERR_PAYLOAD_TOO_LARGE',
  /** The payload is not valid UTF-8 on a route that needs text (a route with a schema). */
  PAYLOAD_NOT_UTF8: 'RMQ_ERR_PAYLOAD_NOT_UTF8',
  /** The payload's JSON nests deeper than `ROUTEMQ_MAX_JSON_DEPTH`. */
  PAYLOAD_TOO_DEEP: 'RMQ_ERR_PAYLOAD_TOO_DEEP',
  /** The payload's JSON holds a `__proto__` or `constructor.prototype` key. */
  PAYLOAD_FORBIDDEN_KEY: 'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY',
  /** The payload is not valid JSON on a route that has a schema. */
  PAYLOAD_NOT_JSON: 'RMQ_ERR_PAYLOAD_NOT_JSON',
  /** The payload failed the route's schema (or its validator threw). */
  PAYLOAD_SCHEMA: 'RMQ_ERR_PAYLOAD_SCHEMA',
  /** No broker answers at the configured address. */
  BROKER_UNREACHABLE: 'RMQ_ERR_BROKER_UNREACHABLE',
  /** The broker refused the credentials (CONNACK not authorized / bad user name or password). */
  MQTT_AUTH: 'RMQ_ERR_MQTT_AUTH',
  /** The broker refused the connection for another reason. */
  MQTT_CONNECT_REFUSED: 'RMQ_ERR_MQTT_CONNECT_REFUSED',
  /** The broker refused a subscription (SUBACK failure code, often an ACL). */
  MQTT_SUBSCRIBE_REFUSED: 'RMQ_ERR_MQTT_SUBSCRIBE_REFUSED',
  /** Another client connected with this client id (v5 DISCONNECT 0x8E); the slot stops instead of fighting. */
  MQTT_SESSION_TAKEN_OVER: 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER',
  /** A publish was attempted while the connection is closed or stopping. */
  MQTT_NOT_CONNECTED: 'RMQ_ERR_MQTT_NOT_CONNECTED',
  /** Publishing a message to the dead-letter topic failed; the original stays unacked and is redelivered. */
  DLQ_PUBLISH_FAILED: 'RMQ_ERR_DLQ_PUBLISH_FAILED',
  /**
   * The dead-letter store is full (`ROUTEMQ_DLQ_MAX_ENTRIES` / `ROUTEMQ_DLQ_MAX_BYTES`): the message stays unacked
   * and is stored once there is room; `/ready` reports it.
   */
  DLQ_STORE_FULL: 'RMQ_ERR_DLQ_STORE_FULL',
  /** The dead-letter store could not write (disk error, Redis down): the message stays unacked and is retried. */
  DLQ_STORE_FAILED: 'RMQ_ERR_DLQ_STORE_FAILED',
  /**
   * The broker refused the MQTT copy of a dead letter (v5 reason ≥ 0x80, too large, not authorised). The dead
   * letter is in the store and the original was acked; the refusal is counted and logged once per route and reason.
   */
  DLQ_PUBLISH_REFUSED: 'RMQ_ERR_DLQ_PUBLISH_REFUSED',
  /** No dead letter in the store has this id. */
  DLQ_NOT_FOUND: 'RMQ_ERR_DLQ_NOT_FOUND',
  /** A clean (non-persistent) session was configured against a broker that loses in-flight messages with it. */
  CLEAN_SESSION_REFUSED: 'RMQ_ERR_CLEAN_SESSION_REFUSED',
  /** A message was over a `rateLimit` middleware's limit with `onLimit: 'dead_letter'`; it is dead-lettered at once. */
  RATE_LIMITED: 'RMQ_ERR_RATE_LIMITED',
  /** The object is stopping or stopped: an operation (scale, reload, restart) came too late. */
  STOPPED: 'RMQ_ERR_STOPPED',
  /** `start()` was called on an object that already started (or stopped); objects start once. */
  ALREADY_STARTED: 'RMQ_ERR_ALREADY_STARTED',
  /** An operation (scale, reload, restart) came before `start()` finished. */
  NOT_STARTED: 'RMQ_ERR_NOT_STARTED',
  /** A worker process did not report ready within `ROUTEMQ_WORKER_START_TIMEOUT_MS`; it was killed. */
  WORKER_START_TIMEOUT: 'RMQ_ERR_WORKER_START_TIMEOUT',
  /** A worker process exited before it was ready, without reporting a coded reason. */
  WORKER_EXITED: 'RMQ_ERR_WORKER_EXITED',
  /** The shutdown deadline passed with handlers still running: they are aborted with this reason. */
  SHUTDOWN_DEADLINE: 'RMQ_ERR_SHUTDOWN_DEADLINE',
  /** No worker pool has this name (or the app has no shared routes, so no pools). */
  POOL_NOT_FOUND: 'RMQ_ERR_POOL_NOT_FOUND',
  /** No running worker has this id (`<pool>-<slot>`). */
  WORKER_NOT_FOUND: 'RMQ_ERR_WORKER_NOT_FOUND',
  /** Another live routemq instance listens on the control socket. */
  CONTROL_SOCKET_IN_USE: 'RMQ_ERR_CONTROL_SOCKET_IN_USE',
  /** RouteMQ cannot create or write its state directory (`ROUTEMQ_STATE_DIR`: worker builds, control socket, dev broker, instance lock). */
  STATE_DIR_NOT_WRITABLE: 'RMQ_ERR_STATE_DIR_NOT_WRITABLE',
  /** An operation needed Redis, and Redis is not connected. */
  REDIS_UNAVAILABLE: 'RMQ_ERR_REDIS_UNAVAILABLE',
  /** A bounded internal step (an MQTT disconnect, a session discard) did not finish in time. */
  TIMED_OUT: 'RMQ_ERR_TIMED_OUT',
  /** RouteMQ broke one of its own invariants, or an internal module was used directly. A bug: please report it. */
  INTERNAL: 'RMQ_ERR_INTERNAL',
  /** A development broker could not be started. */
  DEV_BROKER_FAILED: 'RMQ_ERR_DEV_BROKER_FAILED',
  /** No running instance answers on the control socket. */
  CONTROL_UNREACHABLE: 'RMQ_ERR_CONTROL_UNREACHABLE',
  /** A control-socket request was malformed. */
  CONTROL_INVALID: 'RMQ_ERR_CONTROL_INVALID',
  /** One step of a service's stop failed; the other steps still ran. Logged, never thrown. */
  SHUTDOWN_STEP_FAILED: 'RMQ_ERR_SHUTDOWN_STEP_FAILED',
  /** Another live process runs this instance id on the same state directory; refused before connecting. */
  INSTANCE_RUNNING: 'RMQ_ERR_INSTANCE_RUNNING',
  /** The session registry shows this instance id live elsewhere (another host, process or route set). */
  INSTANCE_ID_IN_USE: 'RMQ_ERR_INSTANCE_ID_IN_USE',
  /** A message an adopted session held matches no route of this deploy; it is dead-lettered, never acked unrun. */
  NO_ROUTE: 'RMQ_ERR_NO_ROUTE',
  /** The session registry could not be read or written (the broker refused a registry publish or subscribe). */
  REGISTRY_FAILED: 'RMQ_ERR_REGISTRY_FAILED',
  /** `routemq sessions adopt|end`: the registry of this app and group holds no session with this client id. */
  SESSION_NOT_FOUND: 'RMQ_ERR_SESSION_NOT_FOUND',
  /** `routemq sessions adopt|end`: the session's owner is live; it is refused (`end` goes ahead with `--force`). */
  SESSION_OWNER_LIVE: 'RMQ_ERR_SESSION_OWNER_LIVE',
  /** `routemq sessions adopt|end`: another live instance holds the claim on this session and is adopting it. */
  SESSION_BEING_ADOPTED: 'RMQ_ERR_SESSION_BEING_ADOPTED',
  /** An adoption by `routemq sessions adopt` stopped before the session was drained and ended; the session is kept. */
  ADOPTION_INCOMPLETE: 'RMQ_ERR_ADOPTION_INCOMPLETE',
  /** `routemq dlq` or the `/dead-letters` HTTP API got bad arguments (a filter, limit, body or topic); nothing done. */
  DLQ_REQUEST_INVALID: 'RMQ_ERR_DLQ_REQUEST_INVALID',
  /** An HTTP request to the health server lacked the bearer token `HEALTH_HTTP_TOKEN`, or gave a wrong one (401). */
  HTTP_UNAUTHORIZED: 'RMQ_ERR_HTTP_UNAUTHORIZED',
  /** A state-changing HTTP request (dead-letter replay, purge) while no `HEALTH_HTTP_TOKEN` is set (403). */
  HTTP_TOKEN_REQUIRED: 'RMQ_ERR_HTTP_TOKEN_REQUIRED',
  /**
   * The message was in hand each time its worker process died, `ROUTEMQ_MAX_CRASHES` times (a signal, the OOM
   * killer, an exception outside the handler): it is dead-lettered at its next delivery without running again.
   */
  HANDLER_CRASHED: 'RMQ_ERR_HANDLER_CRASHED',
  /** A worker process died after it had started (it was ready, or handling its session's messages). */
  WORKER_CRASHED: 'RMQ_ERR_WORKER_CRASHED',
  /** A topic name to publish to is empty, holds a wildcard or NUL, starts with `$`, or is over 65,535 bytes. */
  TOPIC_INVALID: 'RMQ_ERR_TOPIC_INVALID',
  /** A command could not write its output (`routemq docs --out`, the files of `routemq new`). */
  FILE_WRITE_FAILED: 'RMQ_ERR_FILE_WRITE_FAILED',
  /** `routemq new <dir>`: the directory exists and is not empty; nothing was written. */
  NEW_DIR_NOT_EMPTY: 'RMQ_ERR_NEW_DIR_NOT_EMPTY',
  /** A reload was refused because what changed needs a restart (the pool layout); nothing was reloaded. */
  RELOAD_NEEDS_RESTART: 'RMQ_ERR_RELOAD_NEEDS_RESTART',
  /** The instrumentation module (`ROUTEMQ_INSTRUMENTATION`) was not found, did not compile, or threw while loading. */
  INSTRUMENTATION_FAILED: 'RMQ_ERR_INSTRUMENTATION_FAILED',
  /**
   * Sessions of another app (another `ROUTEMQ_APP_NAME`, same `MQTT_GROUP_NAME`) subscribe to one of this app's
   * shared filters exactly, so they take turns in its `$share` rotation. Logged at start, never thrown.
   */
  OTHER_APP_SESSIONS: 'RMQ_ERR_OTHER_APP_SESSIONS',
} as const;

/** One of the stable `RMQ_ERR_*` codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The one error class RouteMQ throws. `code` is stable; `message` names the bad value.
 */
/** Marks every RouteMQError, whichever copy of this module built it (a registry symbol: one per process). */
const BRAND = Symbol.for('routemq.error');

export class RouteMQError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * `err instanceof RouteMQError` also holds for an error built by another instance of this module: route files
   * loaded through a separate module loader (`routemq/testing` loads them through tsx's namespaced loader) get their
   * own copy of RouteMQ's modules, and a code such as `RMQ_ERR_RATE_LIMITED` must still decide retries. Subclasses
   * keep the usual prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== RouteMQError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

/** True when `err` is a {@link RouteMQError}, optionally with the given code. */
export function isRouteMQError(err: unknown, code?: ErrorCode): err is RouteMQError {
  return err instanceof RouteMQError && (code === undefined || err.code === code);
}

/** The code of any error: a RouteMQError's own, or `RMQ_ERR_HANDLER_FAILED` for anything else. */
export function errorCodeOf(err: unknown): ErrorCode {
  return err instanceof RouteMQError ? err.code : ErrorCodes.HANDLER_FAILED;
}

/**
 * Codes whose messages go to the dead-letter topic at once: retrying cannot help them. `NEXT_CALLED_TWICE` is a bug
 * in a middleware, which a retry would meet again after running the handler once more.
 */
const FINAL_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCodes.RATE_LIMITED,
  ErrorCodes.NO_ROUTE,
  ErrorCodes.NEXT_CALLED_TWICE,
]);

/** True when a failure with this code should be dead-lettered without the remaining retries. */
export function isFinalCode(code: ErrorCode): boolean {
  return FINAL_CODES.has(code);
}

/** A short, single-line message for any thrown value. */
export function errorMessageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}
