import { describe, expect, it } from 'vitest';
import { handleCommand } from '../../app/controllers/commands.js';
import { timing } from '../../app/middleware/timing.js';
import type { MessageContext } from '../../src/index.js';

/** A context whose logger records the level of each line. */
function recordingContext(): { ctx: MessageContext<{ deviceId: string }>; levels: string[] } {
  const levels: string[] = [];
  const log = Object.fromEntries(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [level, () => void levels.push(level)]),
  );
  const ctx = {
    topic: 'devices/lamp-1/commands/toggle',
    params: { deviceId: 'lamp-1' },
    wildcards: ['toggle'],
    payload: {},
    attempt: 1,
    log,
    publish: () => Promise.resolve(),
  } as unknown as MessageContext<{ deviceId: string }>;
  return { ctx, levels };
}

describe("the sample app's logging", () => {
  it('logs a handled message at debug only, in the timing middleware and the command controller', async () => {
    const { ctx, levels } = recordingContext();
    await timing()(ctx, () => handleCommand(ctx));
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.every((l) => l === 'debug')).toBe(true);
  });

  it('still warns when a handler fails', async () => {
    const { ctx, levels } = recordingContext();
    await expect(timing()(ctx, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(levels).toEqual(['warn']);
  });
});
