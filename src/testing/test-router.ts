import { randomUUID } from 'node:crypto';
import type { IPublishPacket } from 'mqtt';
import { register } from 'tsx/esm/api';
import type { NamespacedUnregister } from 'tsx/esm/api';
import { CONFIG_DEFAULTS } from '../config/schema.js';
import { ErrorCodes, RouteMQError, errorCodeOf, errorMessageOf } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';
import { RouteRunner } from '../message/route-runner.js';
import type { RunOutcome } from '../message/route-runner.js';
import { MessageStats } from '../message/stats.js';
import { loadRouteFiles } from '../router/discovery.js';
import { compileRoutes } from '../router/route-table.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';
import { Router } from '../router/router.js';
import { topicNameProblem } from '../router/topic-pattern.js';
import type { MessageContext, OutgoingPayload, PublishProperties, QoS } from '../types.js';
import { encodePayload, recordingLogger, recordingPublisher } from './recorders.js';
import type { LogLine, PublishedMessage, RecordingSink } from './recorders.js';

/**
 * Where a test router's routes come from: a route function (`(router) => { … }`, what a route file exports by
 * default), a {@link Router}, a routers directory (every route file in it, as `routemq start` loads them), or a
 * list of these.
 */
export type TestRouteSource = ((router: Router) => void | Promise<void>) | Router | string;

/** Options of {@link createTestRouter}. Every field has the default `routemq start` uses, except the retry delay. */
export interface TestRouterOptions {
  /** Tries before a message is dead-lettered (a route's `maxAttempts` wins). @defaultValue 3 (`ROUTEMQ_MAX_ATTEMPTS`) */
  readonly maxAttempts?: number;
  /** Deadline of one try in ms (a route's `timeoutMs` wins). @defaultValue 30000 (`ROUTEMQ_HANDLER_TIMEOUT_MS`) */
  readonly timeoutMs?: number;
  /** Backoff before the first retry, in ms. @defaultValue 0 (retries run at once; production: 100) */
  readonly retryBaseMs?: number;
  /** Longest backoff between tries, in ms. @defaultValue 0 (production: 5000) */
  readonly retryMaxMs?: number;
  /** Prefix of dead-letter topics. @defaultValue 'routemq/dlq' (`ROUTEMQ_DLQ_PREFIX`) */
  readonly dlqPrefix?: string;
  /** Larger payloads are dead-lettered. @defaultValue 1048576 (`ROUTEMQ_MAX_PAYLOAD_BYTES`) */
  readonly maxPayloadBytes?: number;
  /** Deeper JSON is dead-lettered. @defaultValue 64 (`ROUTEMQ_MAX_JSON_DEPTH`) */
  readonly maxJsonDepth?: number;
  /** Share group of shared routes without a `group`. @defaultValue 'mqtt_framework_group' (`MQTT_GROUP_NAME`) */
  readonly group?: string;
  /** Lowest pino level recorded in {@link TestPublishResult.logs}. @defaultValue 'trace' (everything) */
  readonly logLevel?: string;
}

/** Options of {@link TestRouter.publish}: the PUBLISH packet's fields. */
export interface TestPublishOptions {
  /** @defaultValue 1 */
  readonly qos?: QoS;
  /**
   * A retained copy, as the broker sends on SUBSCRIBE. Shared routes never run those (MQTT 5 §4.8.2): when only
   * shared routes match, the outcome is `skipped`. @defaultValue false
   */
  readonly retain?: boolean;
  /** @defaultValue false */
  readonly dup?: boolean;
  /** MQTT 5 properties (user properties, content type, …). */
  readonly properties?: PublishProperties;
}

/**
 * What happened to a test message:
 * - `handled`: the first try succeeded (or a middleware returned without calling `next()`);
 * - `retried`: handled, on a later try (see {@link TestPublishResult.failures});
 * - `dead-lettered`: tries exhausted, a final error code, or a payload refused before any try;
 * - `unacked`: left for the broker to redeliver (the test router was stopped while the message ran);
 * - `no-route`: no route matches the topic (production acks it unrun);
 * - `skipped`: routes match, but none runs this copy (a retained copy and only shared routes).
 */
export type TestOutcome = 'handled' | 'retried' | 'dead-lettered' | 'unacked' | 'no-route' | 'skipped';

/** One failed try. */
export interface TestFailure {
  /** The route's pattern. */
  readonly route: string;
  /** 1 for the first try. */
  readonly attempt: number;
  /** The error's code: its own for a RouteMQError, `RMQ_ERR_HANDLER_TIMEOUT` on a timeout, else `RMQ_ERR_HANDLER_FAILED`. */
  readonly code: ErrorCode;
  readonly message: string;
  /** What the handler threw (or the timeout error). */
  readonly error: unknown;
}

/** The result of {@link TestRouter.publish}. */
export interface TestPublishResult {
  /** The outcome; with several routes on the winning filter, the worst (unacked, dead-lettered, retried, handled). */
  readonly outcome: TestOutcome;
  /** The dead letter's code when dead-lettered; the last failure's code when retried; else `undefined`. */
  readonly code: ErrorCode | undefined;
  /** Tries run (0 when the payload was refused before any). */
  readonly attempts: number;
  /** The pattern of the route that ran (the first one, when several did). */
  readonly route: string | undefined;
  /** The patterns of every route that ran this message. */
  readonly routes: readonly string[];
  /** Every failed try, in order. */
  readonly failures: readonly TestFailure[];
  /** The dead letter as the store would keep it, when dead-lettered. */
  readonly deadLetter: DeadLetterEnvelope | undefined;
  /** What the handler and its middleware published (`ctx.publish`), in call order. */
  readonly published: readonly PublishedMessage[];
  /** Every log line written while the message ran: `ctx.log` lines and RouteMQ's own (retry, dead letter). */
  readonly logs: readonly LogLine[];
}

/** A route of a test router. */
export type TestRoute = Pick<RouteDefinition, 'pattern' | 'filter' | 'name' | 'qos' | 'shared' | 'source'>;

interface Recording extends RecordingSink {
  readonly failures: TestFailure[];
  readonly deadLetters: DeadLetterEnvelope[];
  /** Highest attempt started, by route id. */
  readonly attempts: Map<number, number>;
}

const newRecording = (): Recording => ({
  logs: [],
  published: [],
  failures: [],
  deadLetters: [],
  attempts: new Map(),
});

/**
 * Load routes and return a {@link TestRouter} that runs them in this process, with no broker.
 *
 * @throws RouteMQError what `routemq start` throws for the same routes: `RMQ_ERR_ROUTES_NOT_FOUND`,
 *   `RMQ_ERR_ROUTE_FILE_INVALID`, `RMQ_ERR_PATTERN_INVALID`, `RMQ_ERR_ROUTE_OPTION_INVALID`,
 *   `RMQ_ERR_ROUTE_DUPLICATE`, `RMQ_ERR_GROUP_INVALID`.
 */
export async function createTestRouter(
  source: TestRouteSource | readonly TestRouteSource[],
  options: TestRouterOptions = {},
): Promise<TestRouter> {
  const router = new Router();
  let loader: NamespacedUnregister | undefined;
  try {
    for (const one of Array.isArray(source) ? (source as readonly TestRouteSource[]) : [source as TestRouteSource]) {
      if (typeof one === 'string') {
        // Route files load through tsx, as under `routemq start`: a test runner's own loader does not reach the
        // import() inside an installed routemq (vitest runs node_modules as plain Node, which cannot load .ts).
        loader ??= register({ namespace: `routemq-testing-${randomUUID()}` });
        const scoped = loader;
        await loadRouteFiles(one, router, { importModule: (url) => scoped.import(url, import.meta.url) });
      } else if (typeof one === 'function') await one(router);
      else router.merge(one);
    }
    const table = compileRoutes(router, { defaultGroup: options.group ?? CONFIG_DEFAULTS.MQTT_GROUP_NAME });
    return new TestRouter(table, options, loader);
  } catch (err) {
    await loader?.unregister();
    throw err;
  }
}

/**
 * Runs routes in-process for tests: {@link publish} hands a message to the same route runner `routemq start` uses
 * (payload limits, schema, middleware, handler, timeouts, retries, dead letters), with a publisher that records
 * `ctx.publish` calls and a logger that records lines.
 *
 * Limits: messages run one at a time, in call order (a route's `concurrency` is not exercised); what a handler
 * does after its try timed out and its message settled lands in {@link late}; routes of worker pools run in this
 * process too, sharing its module state.
 */
export class TestRouter {
  readonly #table: RouteTable;
  readonly #runner: RouteRunner<(outcome: RunOutcome) => void>;
  readonly #force = new AbortController();
  /** Each route with its `run` wrapped to record tries, by route id. */
  readonly #instrumented = new Map<number, RouteDefinition>();
  #current: Recording | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #messageId = 0;
  #stopped = false;
  #stopPromise: Promise<void> | undefined;
  /** What was logged or published while no message was running (a timed-out handler that kept going). */
  readonly late: RecordingSink = { logs: [], published: [] };

  readonly #loader: NamespacedUnregister | undefined;

  /** Prefer {@link createTestRouter}. `loader`: the tsx loader the route files came through, unregistered by stop. */
  constructor(table: RouteTable, options: TestRouterOptions = {}, loader?: NamespacedUnregister) {
    this.#table = table;
    this.#loader = loader;
    const sink = (): RecordingSink => this.#current ?? this.late;
    const logger: Logger = recordingLogger(options.logLevel ?? 'trace', sink);
    this.#runner = new RouteRunner({
      defaults: {
        timeoutMs: options.timeoutMs ?? CONFIG_DEFAULTS.ROUTEMQ_HANDLER_TIMEOUT_MS,
        maxAttempts: options.maxAttempts ?? CONFIG_DEFAULTS.ROUTEMQ_MAX_ATTEMPTS,
        retryBaseMs: options.retryBaseMs ?? 0,
        retryMaxMs: options.retryMaxMs ?? 0,
        dlqPrefix: options.dlqPrefix ?? CONFIG_DEFAULTS.ROUTEMQ_DLQ_PREFIX,
      },
      limits: {
        maxBytes: options.maxPayloadBytes ?? CONFIG_DEFAULTS.ROUTEMQ_MAX_PAYLOAD_BYTES,
        maxDepth: options.maxJsonDepth ?? CONFIG_DEFAULTS.ROUTEMQ_MAX_JSON_DEPTH,
      },
      publish: recordingPublisher(sink),
      stats: new MessageStats(),
      logger,
      forceSignal: this.#force.signal,
      deadLetters: (envelope) => {
        this.#current?.deadLetters.push(envelope);
        return Promise.resolve({ ok: true, id: envelope.id });
      },
      onSettled: (resolve, outcome) => resolve(outcome),
    });
    for (const route of table.routes) this.#instrumented.set(route.id, this.#instrument(route));
  }

  /** The compiled routes, in registration order. */
  get routes(): readonly TestRoute[] {
    return this.#table.routes;
  }

  /**
   * Run the routes matching `topic` for one message, as if the broker delivered it, and resolve once it settled.
   *
   * @param payload - a Buffer or string is sent as is, anything else as JSON (like `ctx.publish`).
   * @throws RouteMQError `RMQ_ERR_TOPIC_INVALID` for a topic no client could publish to;
   *   `RMQ_ERR_STOPPED` after {@link stop}.
   */
  async publish(topic: string, payload: OutgoingPayload, options: TestPublishOptions = {}): Promise<TestPublishResult> {
    const problem = topicNameProblem(topic);
    if (problem !== undefined) {
      throw new RouteMQError(ErrorCodes.TOPIC_INVALID, `Cannot publish to ${JSON.stringify(topic)}: ${problem}`);
    }
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      if (this.#stopped) throw new RouteMQError(ErrorCodes.STOPPED, 'The test router is stopped');
      return await this.#run(topic, payload, options);
    } finally {
      this.#current = undefined;
      release();
    }
  }

  /**
   * Stop: tries in flight are aborted (`ctx.signal`, reason `RMQ_ERR_SHUTDOWN_DEADLINE`) and their messages end
   * `unacked`; nothing more runs. Memoised.
   */
  stop(): Promise<void> {
    if (!this.#stopPromise) {
      this.#stopped = true;
      this.#force.abort(new RouteMQError(ErrorCodes.SHUTDOWN_DEADLINE, 'The test router was stopped'));
      this.#runner.close();
      this.#stopPromise = this.#loader?.unregister() ?? Promise.resolve();
    }
    return this.#stopPromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #run(topic: string, payload: OutgoingPayload, options: TestPublishOptions): Promise<TestPublishResult> {
    const rec = newRecording();
    this.#current = rec;
    const match = this.#table.match(topic);
    const routes = match ? match.routes.filter((route) => !options.retain || !route.shared) : [];
    if (!match || routes.length === 0) return result(rec, match ? 'skipped' : 'no-route', []);
    const qos = options.qos ?? 1;
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic,
      payload: encodePayload(payload),
      qos,
      retain: options.retain ?? false,
      dup: options.dup ?? false,
      ...(qos > 0 ? { messageId: (this.#messageId = (this.#messageId % 65_535) + 1) } : {}),
      ...(options.properties ? { properties: options.properties } : {}),
    };
    const outcomes = await Promise.all(
      routes.map(
        (route) =>
          new Promise<RunOutcome>((resolve) =>
            this.#runner.run(this.#instrumented.get(route.id) ?? route, packet, match.captures, resolve, Date.now()),
          ),
      ),
    );
    const perRoute = routes.map((route, i): TestOutcome => {
      if (outcomes[i] === 'hold') return 'unacked';
      if (rec.deadLetters.some((d) => d.route === route.pattern)) return 'dead-lettered';
      return rec.failures.some((f) => f.route === route.pattern) ? 'retried' : 'handled';
    });
    const worst = (['unacked', 'dead-lettered', 'retried', 'handled'] as const).find((o) => perRoute.includes(o));
    return result(rec, worst ?? 'handled', routes);
  }

  /**
   * The route with its composed `run` wrapped to note each try and its failure. The wrapper adds no behaviour:
   * the runner still sees the same promise settle.
   */
  #instrument(route: RouteDefinition): RouteDefinition {
    const run = (ctx: MessageContext): Promise<void> => {
      const rec = this.#current;
      if (!rec) return route.run(ctx);
      rec.attempts.set(route.id, Math.max(rec.attempts.get(route.id) ?? 0, ctx.attempt));
      let failed = false;
      const fail = (error: unknown): void => {
        if (failed) return;
        failed = true;
        const code = errorCodeOf(error);
        rec.failures.push({ route: route.pattern, attempt: ctx.attempt, code, message: errorMessageOf(error), error });
      };
      // A timeout settles the try without the handler settling: the runner aborts the signal first.
      ctx.signal.addEventListener('abort', () => fail(ctx.signal.reason), { once: true });
      const running = route.run(ctx);
      running.catch(fail);
      return running;
    };
    return Object.freeze({ ...route, run });
  }
}

function result(rec: Recording, outcome: TestOutcome, routes: readonly RouteDefinition[]): TestPublishResult {
  const deadLetter = rec.deadLetters[0];
  const lastFailure = rec.failures.at(-1);
  return {
    outcome,
    code: outcome === 'dead-lettered' ? deadLetter?.error.code : outcome === 'retried' ? lastFailure?.code : undefined,
    attempts: Math.max(0, ...rec.attempts.values()),
    route: routes[0]?.pattern,
    routes: routes.map((route) => route.pattern),
    failures: rec.failures,
    deadLetter,
    published: rec.published,
    logs: rec.logs,
  };
}
