import type { StandardSchemaV1 } from '@standard-schema/spec';

/**
 * The levels of a pattern as a union of string literal types: `Levels<'a/{b}/c'>` is `'a' | '{b}' | 'c'`.
 * Tail-recursive (accumulator) so that long patterns stay within TypeScript's instantiation depth.
 */
type Levels<P extends string, Acc extends string = never> = P extends `${infer Head}/${infer Rest}`
  ? Levels<Rest, Acc | Head>
  : Acc | P;

/** The param name of one level: `'id'` for `'{id}'`, `never` for anything else. */
type ParamOfLevel<L extends string> = L extends `{${infer Name}}` ? (Name extends '' ? never : Name) : never;

/**
 * The names of the `{name}` params of a pattern, as a union: `ParamNames<'sensors/{id}/x/{k}'>` is `'id' | 'k'`.
 */
export type ParamNames<P extends string> = ParamOfLevel<Levels<P>>;

/**
 * The params object of a pattern: `ParamsOf<'sensors/{id}/x/{k}'>` is `{ id: string; k: string }`. A pattern
 * without params gives an empty record (`{}`), so any property access is a compile error. A pattern that is not a
 * string literal (type `string`) gives `Record<string, string>`, because its params cannot be known.
 */
export type ParamsOf<P extends string> = string extends P ? Record<string, string> : { [K in ParamNames<P>]: string };

/**
 * The type-level counterpart of joining a group prefix and a route pattern. The result only feeds
 * {@link ParamsOf}, which splits on `/` and finds no param in an empty level, so the separating slash (written or
 * added, see `joinPrefix`) needs no mirror here. When either side is not a literal, the result is `string` (params
 * unknown, loosely typed).
 */
export type JoinPattern<A extends string, B extends string> = string extends A
  ? string
  : string extends B
    ? string
    : A extends ''
      ? B
      : `${A}/${B}`;

/**
 * The payload type a handler sees: the schema's output type (`StandardSchemaV1.InferOutput`, see
 * https://standardschema.dev), or `unknown` without a schema.
 */
export type PayloadOf<S extends StandardSchemaV1 | undefined> = S extends StandardSchemaV1
  ? StandardSchemaV1.InferOutput<S>
  : unknown;
