import { describe, expect, it } from 'vitest';
import { DEFAULT_WORKER_EXEC_ARGV, withoutFlagsIn } from '../../src/worker/worker-launcher.js';

describe('worker exec flags', () => {
  it('keeps the default flags when NODE_OPTIONS does not set them', () => {
    expect(withoutFlagsIn(DEFAULT_WORKER_EXEC_ARGV, '--enable-source-maps')).toEqual(DEFAULT_WORKER_EXEC_ARGV);
  });

  it('leaves out a flag that NODE_OPTIONS sets, in either spelling', () => {
    expect(
      withoutFlagsIn(['--max-semi-space-size=4', '--abort-on-uncaught-exception'], '--max-semi-space-size=16'),
    ).toEqual(['--abort-on-uncaught-exception']);
    expect(withoutFlagsIn(['--max-semi-space-size=4'], ' --max_semi_space_size=16 ')).toEqual([]);
  });
});
