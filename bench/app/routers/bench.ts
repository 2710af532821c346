import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Middleware, Router } from '../../../src/index.js';
import { createCounter } from '../../lib/counter.mjs';

// The RouteMQ side of the benchmark: one shared route over `bench/{n}`, served by BENCH_W workers. The handler
// gets the payload parsed by the framework and counts it. Options add layers to measure their cost; BENCH_FAIL=1
// makes the handler always throw, with one try, for the dead-letter line.
export default async (router: Router): Promise<void> => {
  const env = process.env;
  // Only workers count; the main process loads the same file too.
  const counter = process.send && env['BENCH_DIR'] ? createCounter(env['BENCH_DIR'], 'routemq') : undefined;
  const ioMs = Number(env['BENCH_IO_MS'] ?? 0);
  const recordDir = env['BENCH_RECORD_DIR'];
  const fail = env['BENCH_FAIL'] === '1';
  const middleware: Middleware[] = Array.from({ length: Number(env['BENCH_MIDDLEWARE'] ?? 0) }, () => {
    return async function passThrough(ctx, next) {
      ctx.state['seen'] = true;
      await next();
    };
  });
  // zod only when the schema variant runs: the other cells should not pay for loading it.
  const { z } = env['BENCH_SCHEMA'] === '1' ? await import('zod') : { z: undefined };
  const schema = z ? z.object({ v: z.number(), i: z.number(), ts: z.number() }) : undefined;
  for (let k = 0; k < Number(env['BENCH_EXTRA_ROUTES'] ?? 0); k++) {
    router.on(`other/${k}/{id}/status`, () => undefined);
  }
  router.on(
    'bench/{n}',
    async (ctx) => {
      if (fail) throw new Error('bench: this route always fails');
      const payload = ctx.payload as { ts: number; i: number };
      if (ioMs > 0) await delay(ioMs);
      // Correctness runs record every id (before the ack) to count losses across a worker kill.
      if (recordDir) appendFileSync(join(recordDir, `ids-${process.pid}.txt`), `${payload.i}\n`);
      counter?.hit(payload.ts);
    },
    {
      shared: true,
      workerCount: Number(env['BENCH_W'] ?? 1),
      qos: Number(env['BENCH_QOS'] ?? 1) as 0 | 1,
      middleware,
      ...(schema ? { schema } : {}),
      ...(env['BENCH_CONCURRENCY'] ? { concurrency: Number(env['BENCH_CONCURRENCY']) } : {}),
      ...(fail ? { maxAttempts: 1 } : {}),
    },
  );
};
