import { EventEmitter } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_NAMES } from '../../src/events.js';
import type { LifecycleEventName, LifecycleEvents } from '../../src/events.js';
import { AppEvents } from '../../src/runtime/app-events.js';
import type { AppEvent } from '../../src/runtime/app-events.js';
import { isWorkerMessage } from '../../src/worker/ipc.js';
import type { WorkerManager } from '../../src/worker/worker-manager.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const ref = { pool: 'p', slot: 0, workerId: 'p-0', pid: 42 };
const deadLetter: LifecycleEvents['message.dead_lettered'] = {
  ...ref,
  route: 'a/{id}',
  topic: 'a/1',
  dlq: 'routemq/dlq/a/{id}',
  code: 'RMQ_ERR_HANDLER_FAILED',
  attempts: 3,
};

describe('lifecycle event names', () => {
  it('are listed once, with a payload type each', () => {
    // A key added to LifecycleEvents without a name here (or the reverse) fails to compile.
    const byName: Record<LifecycleEventName, true> = {
      'worker.started': true,
      'worker.exited': true,
      'worker.restarted': true,
      'worker.stuck': true,
      'pool.degraded': true,
      'pool.scaled': true,
      'message.dead_lettered': true,
      'scaling.decision': true,
      'scaling.leader': true,
    };
    expect([...LIFECYCLE_EVENT_NAMES]).toEqual(Object.keys(byName));
  });

  it('are the names the README gives for /events', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const line = readme.split('\n').find((l) => l.includes('`GET /events`')) ?? '';
    const listed = /`lifecycle` \(([^)]*)\)/.exec(line)?.[1]?.split(', ');
    expect(listed).toEqual([...LIFECYCLE_EVENT_NAMES]);
  });

  it('are the only spellings in src/: no IPC, process or manager event uses another', () => {
    const old = [
      /['"`](worker|pool|message):[a-z_]+['"`]/, // WorkerManager's old names
      /['"`]dead-lettered['"`]/, // the old IPC message
      /\b(emit|on|once|off)\(\s*['"`](deadLettered|stuck)['"`]/, // WorkerProcess's old events
    ];
    // routemq/testing's outcome 'dead-lettered' is a result value of its own API, not an event or IPC message.
    const found = sourceFiles(join(ROOT, 'src'))
      .filter((file) => !relative(ROOT, file).startsWith(join('src', 'testing')))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .flatMap((line, i) => (old.some((re) => re.test(line)) ? [`${relative(ROOT, file)}:${i + 1}: ${line}`] : [])),
      );
    expect(found).toEqual([]);
  });

  it('name the IPC message of a dead letter as the event', () => {
    expect(isWorkerMessage({ type: 'message.dead_lettered', ...deadLetter })).toBe(true);
    expect(isWorkerMessage({ type: 'dead-lettered', ...deadLetter })).toBe(false);
  });

  it('go from the WorkerManager to the app stream under the same name, without the counters', () => {
    const { manager, events, seen } = followed();
    const retired: unknown[] = [];
    events.on('retired', (pid, stats) => retired.push([pid, stats]));

    const stats = { total: { handled: 1 } };
    manager.emit('message.dead_lettered', deadLetter);
    manager.emit('worker.exited', { ...ref, code: 1, signal: null, expected: false, stats });
    manager.emit('pool.degraded', { pool: 'p', restarts: 6, windowMs: 60_000 });

    expect(seen.map((e) => e.type)).toEqual(['message.dead_lettered', 'worker.exited', 'pool.degraded']);
    expect(seen[0]?.data).toEqual(deadLetter);
    expect(seen[1]?.data).toEqual({ ...ref, code: 1, signal: null, expected: false });
    expect(retired).toEqual([[42, stats]]);
  });

  it('hand the session a leaving worker ended to the registry, not to the stream', () => {
    const { manager, events, seen } = followed();
    const ended: string[] = [];
    events.on('session.ended', (clientId) => ended.push(clientId));

    const exit = { ...ref, code: 0, signal: null, expected: true, cause: 'requested', stats: undefined };
    manager.emit('worker.exited', exit);
    manager.emit('worker.exited', { ...exit, endedSession: 'app-one-p-1-tag' });

    expect(ended).toEqual(['app-one-p-1-tag']);
    const data = { ...ref, code: 0, signal: null, expected: true, cause: 'requested' };
    expect(seen.map((e) => e.data)).toEqual([data, data]);
  });
});

/** An AppEvents following a stand-in WorkerManager, with the events it publishes collected in `seen`. */
function followed(): { manager: EventEmitter; events: AppEvents; seen: AppEvent[] } {
  const manager = new EventEmitter();
  const events = new AppEvents();
  const seen: AppEvent[] = [];
  events.on('event', (e) => seen.push(e));
  events.follow(manager as unknown as WorkerManager);
  return { manager, events, seen };
}
