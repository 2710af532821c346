/**
 * @module
 * `routemq/testing`: run a route's middleware and handler in-process with a topic and a payload, with no broker.
 * {@link createTestRouter} loads routes (a route function, a Router or a routers directory); each
 * {@link TestRouter.publish} resolves with the outcome (handled, retried, dead-lettered with its code), what the
 * handler published, and the log lines. See docs/testing.md.
 */
export { createTestRouter, TestRouter } from './testing/test-router.js';
export type {
  TestFailure,
  TestOutcome,
  TestPublishOptions,
  TestPublishResult,
  TestRoute,
  TestRouteSource,
  TestRouterOptions,
} from './testing/test-router.js';
export type { LogLine, PublishedMessage, RecordingSink } from './testing/recorders.js';
