import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import * as ours from '../../src/message/trace-attributes.js';

// RouteMQ spells the attribute names out (the runtime depends on @opentelemetry/api only); they must be those of
// the semantic conventions package.
describe('span attribute names', () => {
  it('are the messaging semantic conventions names', () => {
    expect(ours.ATTR_MESSAGING_SYSTEM_NAME).toBe(semconv.ATTR_MESSAGING_SYSTEM_NAME);
    expect(ours.ATTR_MESSAGING_SYSTEM).toBe(semconv.ATTR_MESSAGING_SYSTEM);
    expect(ours.ATTR_MESSAGING_DESTINATION_NAME).toBe(semconv.ATTR_MESSAGING_DESTINATION_NAME);
    expect(ours.ATTR_MESSAGING_DESTINATION_TEMPLATE).toBe(semconv.ATTR_MESSAGING_DESTINATION_TEMPLATE);
    expect(ours.ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME).toBe(
      semconv.ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
    );
    expect(ours.ATTR_MESSAGING_CONSUMER_GROUP_NAME).toBe(semconv.ATTR_MESSAGING_CONSUMER_GROUP_NAME);
    expect(ours.ATTR_MESSAGING_OPERATION_TYPE).toBe(semconv.ATTR_MESSAGING_OPERATION_TYPE);
    expect(ours.ATTR_MESSAGING_OPERATION_NAME).toBe(semconv.ATTR_MESSAGING_OPERATION_NAME);
    expect(ours.ATTR_MESSAGING_MESSAGE_BODY_SIZE).toBe(semconv.ATTR_MESSAGING_MESSAGE_BODY_SIZE);
    expect(ours.ATTR_ERROR_TYPE).toBe(semconv.ATTR_ERROR_TYPE);
  });

  it('use the operation types of the conventions', () => {
    expect(ours.OPERATION_TYPE_PROCESS).toBe(semconv.MESSAGING_OPERATION_TYPE_VALUE_PROCESS);
    expect(ours.OPERATION_TYPE_SEND).toBe(semconv.MESSAGING_OPERATION_TYPE_VALUE_SEND);
  });
});
