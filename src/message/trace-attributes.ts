// The span attribute names and values RouteMQ's spans carry. The `messaging.*` and `error.type` names are those of the
// OpenTelemetry semantic conventions for messaging spans (docs/specs/semconv/messaging/messaging-spans.md, as
// published in @opentelemetry/semantic-conventions 1.45, `incubating` entry point; test/unit/trace-attributes.test.ts
// checks them against that package). They are plain strings here so the runtime needs nothing but
// @opentelemetry/api.

/**
 * `messaging.system.name`, the current name of the messaging system attribute. MQTT is not one of the well-known
 * values (activemq, kafka, rabbitmq, …); the attribute is an open enum, so a custom value is allowed.
 */
export const ATTR_MESSAGING_SYSTEM_NAME = 'messaging.system.name';
/**
 * `messaging.system`, the older name of the same attribute (deprecated in favour of `messaging.system.name`). Set as
 * well: many tracing back ends still group messaging spans by it.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_TEMPLATE = 'messaging.destination.template';
export const ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME = 'messaging.destination.subscription.name';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_ERROR_TYPE = 'error.type';

/** The value of {@link ATTR_MESSAGING_SYSTEM_NAME} and {@link ATTR_MESSAGING_SYSTEM}. */
export const MESSAGING_SYSTEM_MQTT = 'mqtt';
/** `messaging.operation.type` of a consumer span. */
export const OPERATION_TYPE_PROCESS = 'process';
/** `messaging.operation.type` of a producer span (the older value `publish` is deprecated). */
export const OPERATION_TYPE_SEND = 'send';
/** `messaging.operation.name` of a producer span: the MQTT packet it sends. */
export const OPERATION_NAME_PUBLISH = 'publish';

/** The route's pattern, e.g. `sensors/{id}/telemetry`. */
export const ATTR_ROUTEMQ_ROUTE = 'routemq.route';
/** The handler try, from 1; 0 when the payload was refused before any try. */
export const ATTR_ROUTEMQ_ATTEMPT = 'routemq.attempt';
/** What became of the try: one of {@link TryOutcome}. */
export const ATTR_ROUTEMQ_OUTCOME = 'routemq.outcome';

/**
 * What became of one handler try, as `routemq.outcome` says: `handled` (acked), `retried` (failed; another try
 * follows), `dead_lettered` (failed for good; the dead letter is stored and the original acked), `unacked` (failed
 * and left unacked for the broker to redeliver: a forced stop, or the dead-letter store refused it).
 */
export type TryOutcome = 'handled' | 'retried' | 'dead_lettered' | 'unacked';
