/**
 * @module
 * RouteMQ's public API: declare routes on a {@link Router}, then run them with {@link startRouteMQ} (or
 * `routemq start`). Named exports only; types with `export type`. About 45 names, each one a user can explain;
 * every lifecycle payload is reachable as `LifecycleEvents[name]`, and internals the benchmarks need are in
 * `routemq/internal`, which carries no stability promise.
 */

// Declaring routes
export { Router } from './router/router.js';
export type { GroupOptions } from './router/router.js';
export type { RetainedMode, RouteOptions } from './router/route-options.js';
export type { ParamsOf } from './router/params.js';
export { rateLimit } from './rate-limit/rate-limit.js';
export type { RateLimitOptions } from './rate-limit/rate-limit.js';
export type {
  Handler,
  MessageContext,
  Middleware,
  OutgoingPayload,
  PublishOptions,
  PublishProperties,
  QoS,
  RouteInfo,
  TrafficTools,
} from './types.js';

// Running them
export { RouteMQService, startRouteMQ } from './service/service.js';
export type { RouteMQServiceOptions, ServiceState } from './service/service.js';
export { RouteMQApp } from './runtime/app.js';
export type { AppOptions, AppStatus, ReloadResult } from './runtime/app.js';
export { WorkerManager } from './worker/worker-manager.js';
export type { WorkerManagerEvents, WorkerManagerOptions } from './worker/worker-manager.js';
export type { SharedRouteInfo } from './router/route-table.js';

// Configuration and logging
export { loadConfig, describeConfig } from './config/load-config.js';
export type { LoadConfigOptions } from './config/raw-values.js';
export type { ResolvedConfig } from './config/schema.js';
export { Secret } from './config/secret.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';

// Errors, events and what they carry
export { ErrorCodes, RouteMQError, isRouteMQError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { DeadLetterEnvelope } from './message/dead-letter.js';
export type { DeadLetterInfo, LifecycleEventName, LifecycleEvents, PoolDegradedInfo, WorkerRef } from './events.js';
export type { MessageStatsSnapshot } from './message/stats.js';
export type { PoolHealth, WorkerHealth } from './worker/worker-health.js';
export type { HealthSnapshot } from './health/health-monitor.js';
export type { RouteFigures } from './health/route-figures.js';
export type { LiveFigures } from './message/stats-window.js';
export type { RuntimeSample } from './util/runtime-meter.js';
