import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it, expect, expectTypeOf } from 'vitest';
import * as v from 'valibot';
import { z } from 'zod';
import * as zm from 'zod/mini';
import * as z3 from 'zod/v3';
import type { JoinPattern, ParamNames, ParamsOf, PayloadOf } from '../../src/router/params.js';
import { Router } from '../../src/router/router.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TYPES = resolve(ROOT, 'test/fixtures/types');

/** Run `npx tsc --noEmit -p <config>` and return its exit code and output. */
async function typecheck(config: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await exec('npx', ['tsc', '--noEmit', '-p', resolve(TYPES, config)], { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failure = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? -1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

describe('ParamsOf', () => {
  it('maps every {name} level to a string property', () => {
    expectTypeOf<ParamsOf<'sensors/{id}/x/{k}'>>().toEqualTypeOf<{ id: string; k: string }>();
    expectTypeOf<ParamsOf<'{only}'>>().toEqualTypeOf<{ only: string }>();
    expectTypeOf<ParamNames<'a/{x}/+/{y}/#'>>().toEqualTypeOf<'x' | 'y'>();
  });

  it('gives an empty record for a pattern without params', () => {
    expectTypeOf<ParamsOf<'a/+/b/#'>>().toEqualTypeOf<Record<never, string>>();
    expectTypeOf<ParamNames<'a/+/b/#'>>().toBeNever();
  });

  it('is loose (Record<string, string>) for a pattern that is not a literal', () => {
    expectTypeOf<ParamsOf<string>>().toEqualTypeOf<Record<string, string>>();
  });

  it('ignores braces that are not a whole level, like the runtime rejects them', () => {
    expectTypeOf<ParamNames<'a{b}/c'>>().toBeNever();
    expectTypeOf<ParamNames<'{}'>>().toBeNever();
  });

  it('handles long patterns', () => {
    type Long = 'a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/{last}';
    expectTypeOf<ParamsOf<Long>>().toEqualTypeOf<{ last: string }>();
  });

  it('joins a group prefix type-wise, and gives string when either side is not a literal', () => {
    expectTypeOf<JoinPattern<'', 'a/{x}'>>().toEqualTypeOf<'a/{x}'>();
    expectTypeOf<JoinPattern<'t/{tenant}', 'a/{x}'>>().toEqualTypeOf<'t/{tenant}/a/{x}'>();
    expectTypeOf<JoinPattern<string, 'a'>>().toEqualTypeOf<string>();
  });

  it('types the payload from a zod schema', () => {
    type Reading = z.ZodObject<{ celsius: z.ZodNumber }>;
    expectTypeOf<PayloadOf<Reading>>().toEqualTypeOf<{ celsius: number }>();
    expectTypeOf<PayloadOf<undefined>>().toBeUnknown();
  });
});

describe('router.on types', () => {
  it('types ctx.params from the pattern and ctx.payload from the schema', () => {
    const router = new Router();
    router.on('sensors/{sensorId}/t', (ctx) => {
      expectTypeOf(ctx.params).toEqualTypeOf<Readonly<{ sensorId: string }>>();
      expectTypeOf(ctx.payload).toBeUnknown();
    });
    router.on(
      'rooms/{room}/reading',
      (ctx) => {
        expectTypeOf(ctx.params.room).toBeString();
        expectTypeOf(ctx.payload).toEqualTypeOf<{ celsius: number; note?: string | undefined }>();
      },
      { schema: z.object({ celsius: z.number(), note: z.string().optional() }), qos: 1 },
    );
    router.on(
      'raw/#',
      (ctx) => {
        expectTypeOf(ctx.params).toEqualTypeOf<Readonly<Record<never, string>>>();
      },
      { qos: 0 },
    );
    expect(router.declarations).toHaveLength(3);
  });

  it('types ctx.payload from any Standard Schema validator (zod 3, zod 4 mini, valibot)', () => {
    const router = new Router();
    router.on(
      'v3/{id}',
      (ctx) => {
        expectTypeOf(ctx.payload).toEqualTypeOf<{ celsius: number; note?: string | undefined }>();
      },
      { schema: z3.object({ celsius: z3.number(), note: z3.string().optional() }) },
    );
    router.on(
      'mini/{id}',
      (ctx) => {
        expectTypeOf(ctx.payload).toEqualTypeOf<{ celsius: number }>();
      },
      { schema: zm.object({ celsius: zm.number() }) },
    );
    router.on(
      'valibot/{id}',
      (ctx) => {
        expectTypeOf(ctx.params.id).toBeString();
        expectTypeOf(ctx.payload).toEqualTypeOf<{ celsius: number; at: Date }>();
      },
      {
        schema: v.object({
          celsius: v.number(),
          at: v.pipe(
            v.string(),
            v.transform((s) => new Date(s)),
          ),
        }),
      },
    );
    expect(router.declarations.map((d) => d.options.schema?.['~standard'].vendor)).toEqual(['zod', 'zod', 'valibot']);
  });

  it('includes the params of group prefixes', () => {
    const router = new Router();
    router.group({ prefix: 'tenants/{tenant}' }, (r) => {
      r.group({ prefix: 'sites/{site}' }, (inner) => {
        inner.on('devices/{device}', (ctx) => {
          expectTypeOf(ctx.params).toEqualTypeOf<Readonly<{ tenant: string; site: string; device: string }>>();
        });
      });
    });
    expect(router.declarations[0]?.pattern).toBe('tenants/{tenant}/sites/{site}/devices/{device}');
  });

  it('rejects a misspelt param at compile time (tsc fails on the bad fixture)', async () => {
    const { code, output } = await typecheck('tsconfig.json');
    expect(code).not.toBe(0);
    const errors = output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('bad-params.ts(6,');
    // TS2339 "Property does not exist"; tsc reports it as TS2551 when it also has a "Did you mean" suggestion,
    // which it does for `sensorld` vs `sensorId`.
    expect(errors[0]).toMatch(/error TS(2339|2551): Property 'sensorld' does not exist/);
  });

  it('accepts the correct sibling fixture (tsc passes)', async () => {
    const { code, output } = await typecheck('tsconfig.good.json');
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});
