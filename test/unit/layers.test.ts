import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const depcruise = resolve(root, 'node_modules/.bin/depcruise');
const config = resolve(root, '.dependency-cruiser.cjs');

async function cruise(cwd: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(depcruise, ['src', '--config', config, '--output-type', 'err'], { cwd });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

describe('layers (.dependency-cruiser.cjs)', () => {
  it('src/ has no import that points up a layer, and no cycle', async () => {
    const { code, out } = await cruise(root);
    expect(out).toContain('no dependency violations found');
    expect(code).toBe(0);
  });

  it('refuses a worker file that imports the app layer', async () => {
    const { code, out } = await cruise(resolve(root, 'test/fixtures/layers-bad'));
    expect(out).toContain('no-upward-from-workers: src/worker/worker.ts → src/runtime/app.ts');
    expect(code).not.toBe(0);
  });
});
