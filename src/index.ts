// The public API of RouteMQ. Named exports only; types with `export type`.
export { Router } from './router/router.js';
export type { GroupOptions, RouteOptions } from './router/router.js';
export type { ParamsOf } from './router/params.js';
export { compileRoutes, RouteTable } from './router/route-table.js';
export type { RouteDefinition, RouteMatch, SharedRouteInfo } from './router/route-table.js';
export { compose } from './router/compose.js';
export { rateLimit } from './rate-limit/rate-limit.js';
export type { RateLimitOptions } from './rate-limit/rate-limit.js';
export type { RateLimitStrategy } from './rate-limit/limiter.js';
export { loadRouteFiles } from './router/discovery.js';
export { RouteMQApp } from './runtime/app.js';
export type { AppOptions, AppState } from './runtime/app.js';
export { Consumer } from './consumer/consumer.js';
export { WorkerManager } from './worker/worker-manager.js';
export type { ManagerState, WorkerManagerEvents, WorkerManagerOptions } from './worker/worker-manager.js';
export type {
  DeadLetterInfo,
  LifecycleEventName,
  LifecycleEvents,
  PoolDegradedInfo,
  PoolScaledInfo,
  ScalingDecisionInfo,
  ScalingLeaderInfo,
  WorkerRef,
} from './events.js';
export type { PoolHealth, WorkerHealth, WorkerHealthEntry } from './worker/worker-health.js';
export type { AppStatus } from './runtime/app.js';
export type { ConsumerOptions } from './consumer/consumer.js';
export { loadConfig, describeConfig } from './config/load-config.js';
export type { ResolvedConfig } from './config/schema.js';
export { Secret } from './config/secret.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { ErrorCodes, RouteMQError, isRouteMQError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { DeadLetterEnvelope } from './message/dead-letter.js';
export type { MessageStatsSnapshot } from './message/stats.js';
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
