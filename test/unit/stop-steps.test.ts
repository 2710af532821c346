import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runStopSteps } from '../../src/util/stop-steps.js';

describe('runStopSteps', () => {
  it('runs every step in order even when some fail, and names the failed ones', async () => {
    const ran: string[] = [];
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const failed = await runStopSteps(
      [
        { name: 'a', run: () => void ran.push('a') },
        {
          name: 'b',
          run: () => {
            ran.push('b');
            throw new Error('b broke');
          },
        },
        { name: 'c', run: () => Promise.reject(new Error('c broke')).finally(() => ran.push('c')) },
        { name: 'd', run: () => Promise.resolve().then(() => void ran.push('d')) },
      ],
      logger,
    );
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    expect(failed).toEqual(['b', 'c']);
    const logged = lines.map((l) => JSON.parse(l) as { code: string; step: string });
    expect(logged.map((l) => [l.code, l.step])).toEqual([
      ['RMQ_ERR_SHUTDOWN_STEP_FAILED', 'b'],
      ['RMQ_ERR_SHUTDOWN_STEP_FAILED', 'c'],
    ]);
  });
});
