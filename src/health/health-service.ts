import { readFileSync } from 'node:fs';
import type { ResolvedConfig } from '../config/schema.js';
import type { ControlHandler } from '../control/control-server.js';
import type { Logger } from '../logger.js';
import type { RouteMQApp } from '../runtime/app.js';
import { DashboardHistory } from './dashboard-data.js';
import { HealthMonitor } from './health-monitor.js';
import { appAsyncApiDocument } from '../asyncapi/for-app.js';
import { HealthHttpServer } from './http-server.js';
import { MetricsAggregator } from './metrics-aggregator.js';
import type { AggregatedStats } from './metrics-aggregator.js';
import { createMetricsRegistry } from './metrics.js';
import { RedisHealthReporter } from './redis-reporter.js';
import type { RedisManager } from '../redis/redis-manager.js';
import type { ScalingView } from '../scaling/autoscaler.js';
import type { SessionEntry } from '../sessions/session-list.js';

/** How long one sum of the counters serves (a scrape asks several times in a row). */
const AGGREGATE_TTL_MS = 100;

/**
 * Health for a running app: the monitor (pidusage + IPC), the aggregated Prometheus registry, and — when
 * `HEALTH_HTTP_ENABLED` or `METRICS_HTTP_ENABLED` — the HTTP server. Start it before the app, so `/ready` answers
 * 503 while the workers come up. A worker over `ROUTEMQ_MAX_MEMORY_MB` is replaced through the WorkerManager.
 */
export class HealthService {
  readonly monitor: HealthMonitor;
  readonly #app: RouteMQApp;
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #aggregator = new MetricsAggregator();
  #aggregated: { readonly at: number; readonly stats: AggregatedStats } | undefined;
  readonly #server: HealthHttpServer | undefined;
  readonly #replacing = new Set<string>();
  readonly #reporter: RedisHealthReporter | undefined;
  readonly #history: DashboardHistory | undefined;
  #stopping = false;
  #stopPromise: Promise<void> | undefined;

  constructor(
    app: RouteMQApp,
    config: ResolvedConfig,
    logger: Logger,
    redis?: RedisManager,
    scaling?: () => ScalingView | undefined,
    sessions?: () => readonly SessionEntry[],
    control?: ControlHandler,
  ) {
    this.#app = app;
    this.#config = config;
    this.#log = logger;
    this.monitor = new HealthMonitor({
      status: () => app.status(),
      intervalMs: config.health.intervalMs,
      windowDeltas: () => app.workers?.windowDeltas() ?? [],
      maxMemoryMb: config.health.maxMemoryMb,
      logger,
    });
    app.events.on('retired', (pid, stats) => this.#aggregator.retire(pid, stats));
    this.monitor.on('memory:exceeded', ({ workerId }) => void this.#replace(workerId));
    // Four gauges read the scaling view per scrape; one view (per worker snapshot) serves them all.
    let view: { readonly at: number; readonly value: ScalingView | undefined } | undefined;
    const scalingView = (): ScalingView | undefined => {
      const now = Date.now();
      if (!view || now - view.at >= AGGREGATE_TTL_MS) view = { at: now, value: scaling?.() };
      return view.value;
    };
    const registry = createMetricsRegistry({
      aggregate: () => this.#aggregate(),
      health: () => this.monitor.latest,
      deadLetters: () => app.deadLetters?.status(),
      ...(scaling ? { scaling: scalingView } : {}),
    });
    if (redis && redis.state !== 'disabled') {
      this.#reporter = new RedisHealthReporter({
        redis,
        events: app.events,
        monitor: this.monitor,
        instanceId: config.routemq.instanceId,
        heartbeatTtlMs: Math.max(3 * config.health.intervalMs, 5000),
        logger,
      });
    }
    const h = config.health;
    if (h.httpEnabled) {
      this.#history = new DashboardHistory({
        monitor: this.monitor,
        events: app.events,
        info: {
          instance: config.routemq.instanceId,
          broker: config.mqtt.url,
          group: config.mqtt.groupName,
          version: routemqVersion(),
        },
      });
    }
    if (h.httpEnabled || h.metricsEnabled) {
      this.#server = new HealthHttpServer({
        host: h.host,
        port: h.port,
        healthEnabled: h.httpEnabled,
        metricsEnabled: h.metricsEnabled,
        metricsPath: h.metricsPath,
        token: h.token,
        monitor: this.monitor,
        registry,
        events: app.events,
        stopping: () => this.#stopping || app.state === 'stopping' || app.state === 'stopped',
        dependencies: (): Record<string, string> => (redis && redis.state !== 'disabled' ? { redis: redis.state } : {}),
        ...(scaling ? { scaling } : {}),
        ...(sessions ? { sessions } : {}),
        deadLetters: {
          store: () => (app.state === 'running' ? app.deadLetters?.store : undefined),
          publish: async (topic, payload, options) => app.publish(topic, payload, options),
          protocolVersion: config.mqtt.protocolVersion,
          logger,
        },
        asyncapi: () => (app.table ? appAsyncApiDocument(config, app.table) : undefined),
        ...(this.#history ? { dashboard: this.#history } : {}),
        ...(control ? { control } : {}),
        logger,
      });
    }
  }

  /**
   * Counters summed over every process. One scrape asks for them once per metric (seven times); the workers'
   * counters only change with their next stats message, so one sum serves the whole scrape.
   */
  #aggregate(): AggregatedStats {
    const now = Date.now();
    if (this.#aggregated && now - this.#aggregated.at < AGGREGATE_TTL_MS) return this.#aggregated.stats;
    const status = this.#app.status();
    const live = [
      { pid: process.pid, stats: status.main },
      ...(status.workers?.workers ?? []).map((w) => ({ pid: w.pid, stats: w.stats })),
    ];
    const stats = this.#aggregator.aggregate(live);
    this.#aggregated = { at: now, stats };
    return stats;
  }

  /** The HTTP server's base URL, when it runs. */
  get url(): string | undefined {
    return this.#server?.url;
  }

  /** Start sampling and, when enabled, serving HTTP. */
  async start(): Promise<void> {
    this.#history?.start();
    this.monitor.start();
    this.#reporter?.start();
    await this.#server?.start();
    const url = this.#server?.url;
    if (url) {
      const h = this.#config.health;
      this.#log.info(
        {
          ...(h.httpEnabled ? { dashboard: `${url}/`, ready: `${url}/ready`, status: `${url}/status` } : {}),
          ...(h.metricsEnabled ? { metrics: `${url}${h.metricsPath}` } : {}),
        },
        h.metricsEnabled
          ? `${h.httpEnabled ? 'health and metrics' : 'metrics'} on ${url}`
          : `health on ${url} (metrics off: set METRICS_HTTP_ENABLED=true for ${h.metricsPath})`,
      );
    }
  }

  /** Mark the shutdown (`/ready` turns 503), then close everything. Memoised. */
  stop(): Promise<void> {
    this.#stopping = true;
    this.#stopPromise ??= (async () => {
      this.monitor.stop();
      this.#history?.stop();
      this.#reporter?.stop();
      await this.#server?.stop();
    })();
    return this.#stopPromise;
  }

  /** Drain and replace a worker over its memory limit (never killed mid-message). */
  async #replace(workerId: string): Promise<void> {
    if (this.#replacing.has(workerId) || !this.#app.workers) return;
    this.#replacing.add(workerId);
    try {
      await this.#app.workers.restartWorker(workerId);
      this.#log.info({ workerId }, 'worker replaced after exceeding its memory limit');
    } catch (err) {
      this.#log.warn({ err, workerId }, 'could not replace the worker over its memory limit');
    } finally {
      this.#replacing.delete(workerId);
    }
  }
}

/** RouteMQ's own version, from its package.json (`src/health` and `dist/health` are both two levels down). */
function routemqVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
