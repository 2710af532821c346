import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { uniqueName, waitUntil } from '../helpers/mqtt.js';

const APP = fileURLToPath(new URL('../fixtures/apps/tracing/', import.meta.url));

interface SpanLine {
  readonly pid: number;
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly attributes: Record<string, unknown>;
}
interface LoadedLine {
  readonly loaded: number;
  readonly worker: boolean;
  readonly mqttLoaded: boolean;
}

// ROUTEMQ_INSTRUMENTATION: the app's SDK set-up is loaded first by `routemq start` and by every worker; spans are
// written to a file by each process.
describe('OpenTelemetry tracing across worker processes (ROUTEMQ_INSTRUMENTATION)', () => {
  const f = useFixture({ routers: `${APP}routers` });

  function lines(file: string): (SpanLine | LoadedLine)[] {
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SpanLine | LoadedLine);
  }

  it('loads the module before anything else in the main process and the workers, and links their spans in one trace', async () => {
    const spansFile = f.path('spans', '.jsonl');
    const prefix = uniqueName('trace');
    await f.serve(
      f.env({
        ROUTEMQ_INSTRUMENTATION: `${APP}instrumentation.ts`,
        TRACE_SPANS_FILE: spansFile,
        TRACE_TOPIC: prefix,
      }),
    );
    const client = await f.connect();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const upstream = '00f067aa0ba902b7';
    await client.publishAsync(`${prefix}/7/a`, '{"v":7}', {
      qos: 1,
      properties: { userProperties: { traceparent: `00-${traceId}-${upstream}-01` } },
    });
    const spans = (): SpanLine[] => lines(spansFile).filter((l): l is SpanLine => 'spanId' in l);
    const find = (name: string): SpanLine | undefined => spans().find((s) => s.name === name);
    // B's span may be written before A's: A ends once its publish is acked and its handler returns.
    const names = [`process ${prefix}/{id}/a`, 'publish', `process ${prefix}/{id}/b`];
    await waitUntil(() => names.every((name) => find(name) !== undefined), 30_000, 'the spans of A, its publish and B');

    const a = find(`process ${prefix}/{id}/a`);
    const publish = spans().find(
      (s) => s.name === 'publish' && s.attributes['messaging.destination.name'] === `${prefix}/7/b`,
    );
    const b = find(`process ${prefix}/{id}/b`);
    for (const span of [a, publish, b]) expect(span?.traceId).toBe(traceId);
    expect(a?.parentSpanId).toBe(upstream);
    expect(publish?.parentSpanId).toBe(a?.spanId);
    expect(b?.parentSpanId).toBe(publish?.spanId);
    // A and its publish ran in the worker, B in the main process.
    expect(a?.pid).toBe(publish?.pid);
    expect(b?.pid).not.toBe(a?.pid);
    expect(a?.attributes).toMatchObject({
      'messaging.system': 'mqtt',
      'messaging.consumer.group.name': expect.any(String),
      'messaging.destination.subscription.name': expect.stringMatching(/^\$share\//),
      'routemq.outcome': 'handled',
    });

    const loaded = lines(spansFile).filter((l): l is LoadedLine => 'loaded' in l);
    expect(loaded.map((l) => l.worker).sort()).toEqual([false, true]);
    expect(loaded.map((l) => l.loaded)).toEqual(expect.arrayContaining([a?.pid, b?.pid]));
    // Loaded first: before MQTT.js, in the main process and in the worker.
    expect(loaded.every((l) => !l.mqttLoaded)).toBe(true);
  });

  it('refuses to start when the module throws in a worker, with RMQ_ERR_INSTRUMENTATION_FAILED', async () => {
    const app = f.spawn(
      ['start'],
      f.env({
        ROUTEMQ_INSTRUMENTATION: `${APP}instrumentation.ts`,
        TRACE_SPANS_FILE: f.path('spans', '.jsonl'),
        TRACE_FAIL_IN_WORKERS: '1',
      }),
    );
    const { code } = await app.exited;
    expect(code).not.toBe(0);
    expect(app.lines.join('\n')).toContain('RMQ_ERR_INSTRUMENTATION_FAILED');
    expect(app.lines.join('\n')).toContain('no exporter in workers (on purpose)');
  });

  it('refuses to start when the module does not exist, with RMQ_ERR_INSTRUMENTATION_FAILED', async () => {
    const app = f.spawn(['start'], f.env({ ROUTEMQ_INSTRUMENTATION: `${APP}missing.ts` }));
    const { code } = await app.exited;
    expect(code).toBe(1);
    expect(app.lines.join('\n')).toContain('RMQ_ERR_INSTRUMENTATION_FAILED');
  });
});
