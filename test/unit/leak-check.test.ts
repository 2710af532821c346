import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { leftoverProcesses } from '../helpers/leak-check.js';
import { waitUntil } from '../helpers/mqtt.js';

// The global check (a setup file) fails a test file on what this finds after the file's teardown.
describe('the leak check', () => {
  const started: number[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('finds a child of the test process, and an orphan whose parent exited, by the inherited marker', async () => {
    expect(leftoverProcesses()).toEqual([]);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    started.push(child.pid as number);
    // The shell forks a sleep and exits at once: the sleep is reparented, no longer a descendant.
    const shell = spawn('sh', ['-c', 'sleep 31 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const orphan = await new Promise<number>((resolve) =>
      shell.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    started.push(orphan);
    await new Promise((resolve) => shell.once('exit', resolve));
    // A forked child shows its parent's command line until it has exec'd: wait for both sleeps to be sleeps.
    const commands = (): string =>
      leftoverProcesses()
        .map((p) => p.command)
        .sort()
        .join(',');
    await waitUntil(() => commands() === 'sleep 30,sleep 31', 20_000, 'both sleeps found');
    expect(
      leftoverProcesses()
        .map((p) => p.pid)
        .sort(),
    ).toEqual([child.pid, orphan].sort());
    expect(
      leftoverProcesses()
        .map((p) => p.command)
        .sort(),
    ).toEqual(['sleep 30', 'sleep 31']);
  });
});
