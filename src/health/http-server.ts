import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Secret } from '../config/secret.js';
import { ErrorCodes } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AppEvent, AppEvents } from '../runtime/app-events.js';
import type { ControlHandler } from '../control/control-server.js';
import { handleControlRequest } from './control-http.js';
import { dashboardPage } from './dashboard.js';
import type { DashboardHistory } from './dashboard-data.js';
import { handleDeadLetterRequest, isDeadLetterPath, isStateChanging, sendJson as json } from './dead-letter-http.js';
import type { DeadLetterHttpOptions } from './dead-letter-http.js';
import { backlogOf } from './route-figures.js';
import type { HealthMonitor, HealthSnapshot } from './health-monitor.js';
import type { ScalingView } from '../scaling/autoscaler.js';
import type { SessionEntry } from '../sessions/session-list.js';

/** Options of {@link HealthHttpServer}. */
export interface HealthHttpOptions {
  readonly host: string;
  readonly port: number;
  /** Serve `/health`, `/ready`, `/status`, `/events`, `/`. */
  readonly healthEnabled: boolean;
  /** Serve Prometheus text at `metricsPath`. */
  readonly metricsEnabled: boolean;
  readonly metricsPath: string;
  readonly token: Secret | undefined;
  readonly monitor: HealthMonitor;
  readonly registry: Registry;
  readonly events: AppEvents;
  /** True once a shutdown began (then `/ready` answers 503). */
  readonly stopping: () => boolean;
  /**
   * Optional dependencies and their state (e.g. `{ redis: 'down' }`), shown on `/ready`. They never make it 503:
   * messages still flow without them, and a restart would not bring them back.
   */
  readonly dependencies?: () => Record<string, string>;
  /** The autoscaler's signals for `GET /scaling` (KEDA metrics-api). */
  readonly scaling?: () => ScalingView | undefined;
  /** The session registry's sessions of this app and group, for `/status` (`sessions`). */
  readonly sessions?: () => readonly SessionEntry[];
  /** Serve the `/dead-letters` API (with `healthEnabled`) over the app's store and main connection. */
  readonly deadLetters?: DeadLetterHttpOptions;
  /** The AsyncAPI document of the routes, for `/asyncapi.json` (404 while there is none). */
  readonly asyncapi?: () => unknown;
  /** Serve `GET /dashboard/data` (with `healthEnabled`) from this history. */
  readonly dashboard?: DashboardHistory;
  /** Serve `POST /control` (with `healthEnabled`): scale, restart-worker and reload, through this handler. */
  readonly control?: ControlHandler;
  readonly logger: Logger;
}

/** Paths served without the token: the probes (`/ready` then shows only `{ ready }`). */
const OPEN_PATHS: ReadonlySet<string> = new Set(['/health', '/ready']);

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/**
 * The HTTP face of a running app (node:http, no framework): probes for orchestrators, Prometheus metrics, the full
 * health JSON, Server-Sent Events of lifecycle events, a self-contained dashboard page with its data
 * (`/dashboard/data`), the `/dead-letters` API and the page's actions (`POST /control`). Binds to 127.0.0.1 by
 * default; an optional bearer token protects everything but `/health` and the status of `/ready` (its details need
 * the token: probes cannot send a secret). Requests that change something (replaying or purging dead letters,
 * scaling, restarting a worker, reloading) need the token, sent as `Authorization: Bearer`, always: with no
 * `HEALTH_HTTP_TOKEN` set they are refused (403, `RMQ_ERR_HTTP_TOKEN_REQUIRED`).
 */
export class HealthHttpServer {
  readonly #o: HealthHttpOptions;
  readonly #routes = new Map<string, Route>();
  readonly #clients = new Set<ServerResponse>();
  #server: Server | undefined;
  #stopPromise: Promise<void> | undefined;
  readonly #onEvent = (event: AppEvent): void => this.#broadcast('lifecycle', event);
  readonly #onSample = (snapshot: HealthSnapshot): void => this.#broadcast('health', snapshot);

  constructor(options: HealthHttpOptions) {
    this.#o = options;
    if (options.healthEnabled) {
      this.#routes.set('/health', (_req, res) => json(res, 200, { status: 'ok', pid: process.pid }));
      this.#routes.set('/ready', async (req, res) => {
        const s = await options.monitor.sample();
        const problems = options.stopping() ? ['shutdown in progress', ...s.problems] : s.problems;
        const status = problems.length === 0 ? 200 : 503;
        // Probes cannot carry a secret (a Kubernetes httpGet probe's headers are literal), so without the token
        // /ready still answers its status, with nothing but `ready` in the body.
        if (!this.#authorized(req, true)) return json(res, status, { ready: problems.length === 0 });
        const dlq = s.deadLetters;
        json(res, status, {
          ready: problems.length === 0,
          problems,
          dependencies: options.dependencies?.() ?? {},
          // Refused MQTT copies lose nothing (the store has every dead letter), so they do not make /ready fail;
          // they are shown here, and a full store is one of the problems above.
          ...(dlq
            ? {
                deadLetters: {
                  store: { entries: dlq.store.entries, bytes: dlq.store.bytes, full: dlq.store.full },
                  refusals: dlq.refusals,
                },
              }
            : {}),
        });
      });
      this.#routes.set('/status', async (_req, res) => {
        const sample = await options.monitor.sample();
        json(res, 200, options.sessions ? { ...sample, sessions: options.sessions() } : sample);
      });
      this.#routes.set('/events', (req, res) => this.#subscribe(req, res));
      // KEDA's metrics-api scaler reads one number from this JSON, e.g. valueLocation `pools.<pool>.desired` or
      // `pools.<pool>.oldestUnackedAgeSeconds` (this host's backlog; the broker's queue is not visible over MQTT).
      this.#routes.set('/scaling', (_req, res) => {
        const view = options.scaling?.();
        if (!view) return json(res, 404, { error: 'no worker pools' });
        const latest = options.monitor.latest;
        const routes = latest?.routes ?? [];
        const pools = Object.fromEntries(
          Object.entries(view.pools).map(([name, pool]) => [
            name,
            { ...pool, ...backlogOf(routes, latest?.pools.find((p) => p.name === name)?.routes ?? []) },
          ]),
        );
        json(res, 200, {
          ...view,
          pools,
          routes: Object.fromEntries(
            routes.map((r) => [
              r.route,
              { backlogMessages: r.backlogMessages, oldestUnackedAgeSeconds: r.oldestUnackedAgeSeconds },
            ]),
          ),
        });
      });
      this.#routes.set('/asyncapi.json', (_req, res) => {
        const document = options.asyncapi?.();
        if (document) json(res, 200, document);
        else json(res, 404, { error: 'no routes loaded' });
      });
      this.#routes.set('/', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(dashboardPage(options.logger));
      });
      const history = options.dashboard;
      if (history) {
        this.#routes.set('/dashboard/data', async (_req, res) => {
          // The latest sample, not a fresh one: a fresh sample per page poll would reset the workers' rates.
          const snapshot = options.monitor.latest ?? (await options.monitor.sample());
          json(res, 200, { ...history.data(snapshot), sessions: options.sessions?.() ?? [] });
        });
      }
    }
    if (!options.metricsEnabled && !this.#routes.has(options.metricsPath)) {
      // The health server runs without metrics: say what to set instead of a bare 404.
      this.#routes.set(options.metricsPath, (_req, res) =>
        json(res, 404, {
          error: 'metrics are disabled',
          hint: 'set METRICS_HTTP_ENABLED=true to serve Prometheus metrics here',
          path: options.metricsPath,
        }),
      );
    }
    if (options.metricsEnabled) {
      this.#routes.set(options.metricsPath, async (_req, res) => {
        await options.monitor.sample();
        const text = await options.registry.metrics();
        res.writeHead(200, { 'content-type': options.registry.contentType });
        res.end(text);
      });
    }
  }

  /** The bound address (after {@link start}). */
  get url(): string {
    const address = this.#server?.address() as AddressInfo | null;
    const host = this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host;
    return `http://${host}:${address?.port ?? this.#o.port}`;
  }

  /** Listen. */
  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    this.#o.events.on('event', this.#onEvent);
    this.#o.monitor.on('sample', this.#onSample);
  }

  /** Close the server and every event stream. Memoised. */
  stop(): Promise<void> {
    this.#stopPromise ??= new Promise<void>((resolve) => {
      this.#o.events.off('event', this.#onEvent);
      this.#o.monitor.off('sample', this.#onSample);
      for (const client of this.#clients) client.end();
      this.#clients.clear();
      if (!this.#server) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#stopPromise;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const deadLetters = this.#o.healthEnabled ? this.#o.deadLetters : undefined;
    if (deadLetters && isDeadLetterPath(path)) {
      if (!this.#authorizedFor(req, res)) return;
      return handleDeadLetterRequest(req, res, url, deadLetters);
    }
    const control = this.#o.healthEnabled ? this.#o.control : undefined;
    if (control && path === '/control') {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return json(res, 405, { error: 'method not allowed', method: req.method });
      }
      if (!this.#authorizedFor(req, res)) return;
      return handleControlRequest(req, res, control, this.#o.logger);
    }
    const route = this.#routes.get(path);
    if (!route) return json(res, 404, { error: 'not found', path });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'method not allowed', method: req.method });
    }
    if (!OPEN_PATHS.has(path) && !this.#authorized(req, true)) return unauthorized(res);
    try {
      await route(req, res);
    } catch (err) {
      this.#o.logger.error({ err, path }, 'health endpoint failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
    }
  }

  /**
   * Reads: as every other path. State changes: the token is required even when none is set (a page the operator
   * visits could otherwise make the browser post to 127.0.0.1), and only in the header (never in a URL that logs
   * and browser histories keep). Answers the refusal itself; true when the request may go on.
   */
  #authorizedFor(req: IncomingMessage, res: ServerResponse): boolean {
    if (!isStateChanging(req.method)) {
      if (this.#authorized(req, true)) return true;
      unauthorized(res);
      return false;
    }
    if (!this.#o.token) {
      json(res, 403, {
        error:
          'Changes over HTTP (replaying or purging dead letters, scaling, restarting a worker, reloading) need ' +
          'HEALTH_HTTP_TOKEN set (and sent as a bearer token)',
        code: ErrorCodes.HTTP_TOKEN_REQUIRED,
      });
      return false;
    }
    if (this.#authorized(req, false)) return true;
    unauthorized(res);
    return false;
  }

  #authorized(req: IncomingMessage, queryToken: boolean): boolean {
    const token = this.#o.token;
    if (!token) return true;
    const header = req.headers.authorization ?? '';
    // EventSource cannot send headers: the dashboard passes the token as ?token= on /events.
    const query = queryToken ? (new URL(req.url ?? '/', 'http://localhost').searchParams.get('token') ?? '') : '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : query;
    const expected = Buffer.from(token.reveal());
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  #subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(': routemq events\n\n');
    this.#clients.add(res);
    const latest = this.#o.monitor.latest;
    if (latest) send(res, 'health', latest);
    req.on('close', () => this.#clients.delete(res));
  }

  #broadcast(event: string, data: unknown): void {
    for (const client of this.#clients) send(client, event, data);
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function unauthorized(res: ServerResponse): void {
  res.setHeader('www-authenticate', 'Bearer');
  json(res, 401, {
    error: 'unauthorized: send Authorization: Bearer <HEALTH_HTTP_TOKEN>',
    code: ErrorCodes.HTTP_UNAUTHORIZED,
  });
}
