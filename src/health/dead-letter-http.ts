/**
 * @module
 * The `/dead-letters` HTTP API of the health server: the actions of `routemq dlq` (the same functions, from
 * `dlq/dead-letter-actions.ts`) for the dashboard. Documented in docs/dead-letters-http.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  DEFAULT_DEAD_LETTER_PAGE,
  MAX_DEAD_LETTER_PAGE,
  listDeadLetters,
  parseDeadLetterFilter,
  purgeDeadLetters,
  replayDeadLetters,
  selectForReplay,
  showDeadLetter,
} from '../dlq/dead-letter-actions.js';
import type { ReplayOutcome, ReplayPublish } from '../dlq/dead-letter-actions.js';
import type { DeadLetterStore } from '../dlq/store.js';
import { ErrorCodes, RouteMQError, errorMessageOf, isRouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

/** The largest request body the API reads, in bytes (a replay body is a few hundred). */
export const MAX_DEAD_LETTER_BODY_BYTES = 16 * 1024;

/** What the API works on: the running app's store and main connection. */
export interface DeadLetterHttpOptions {
  /** The app's open store; undefined before the app has started or after it stopped (then 503). */
  readonly store: () => DeadLetterStore | undefined;
  /** Publishes a replayed message on the app's main connection; resolves on the broker's ack. */
  readonly publish: ReplayPublish;
  readonly protocolVersion: 4 | 5;
  readonly logger: Logger;
}

/** `POST /dead-letters/<id>/replay`. Unknown keys are refused, so a misspelt `toTopic` never replays elsewhere. */
const ReplayOneBody = z.strictObject({ toTopic: z.string().optional() });
/** `POST /dead-letters/replay`. */
const ReplayManyBody = z.strictObject({
  route: z.string().optional(),
  code: z.string().optional(),
  since: z.string().optional(),
  all: z.boolean().optional(),
  toTopic: z.string().optional(),
});

/** True for the paths this API serves. */
export function isDeadLetterPath(path: string): boolean {
  return path === '/dead-letters' || path.startsWith('/dead-letters/');
}

/** True for a request that changes the store or publishes (it needs the token even where reads are open). */
export function isStateChanging(method: string | undefined): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/** Answer one request under `/dead-letters` (already authorised). Never rejects. */
export async function handleDeadLetterRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: DeadLetterHttpOptions,
): Promise<void> {
  try {
    const segments = url.pathname.split('/').slice(2).map(decodeSegment);
    const store = options.store();
    const [id, action, ...rest] = segments;
    if (rest.length > 0 || id === '' || action === '' || (action !== undefined && action !== 'replay')) {
      return sendJson(res, 404, { error: 'not found', path: url.pathname });
    }
    const allow = action === 'replay' || id === 'replay' ? 'POST' : 'GET, HEAD, DELETE';
    if (!allow.split(', ').includes(req.method ?? '')) {
      res.setHeader('allow', allow);
      return sendJson(res, 405, { error: 'method not allowed', method: req.method });
    }
    if (!store) {
      throw new RouteMQError(
        ErrorCodes.DLQ_STORE_FAILED,
        'The dead-letter store is not open (the app is starting or has stopped)',
      );
    }
    const q = url.searchParams;
    const filterInput = { route: param(q, 'route'), code: param(q, 'code'), since: param(q, 'since') };
    if (req.method === 'POST') {
      const body = await readJsonBody(req);
      if (action === 'replay' && id !== undefined) {
        const { toTopic } = parseBody(ReplayOneBody, body);
        const ids = await selectForReplay(store, { id, toTopic });
        return sendJson(res, 200, await replay(store, ids, toTopic, 0, options));
      }
      const selection = parseBody(ReplayManyBody, body);
      const ids = await selectForReplay(store, selection);
      const page = ids.slice(0, MAX_DEAD_LETTER_PAGE);
      return sendJson(res, 200, await replay(store, page, selection.toTopic, ids.length - page.length, options));
    }
    if (req.method === 'DELETE') {
      const all = param(q, 'all');
      if (all !== undefined && all !== 'true') throw invalid(`all='${all}': only all=true is accepted`);
      const purged =
        id !== undefined
          ? await purgeDeadLetters(store, { id })
          : await purgeDeadLetters(store, { ...filterInput, all: all === 'true' });
      options.logger.info({ purged, id, ...filterInput }, 'dead letters purged over HTTP');
      return sendJson(res, 200, { purged });
    }
    if (id !== undefined) return sendJson(res, 200, await showDeadLetter(store, id));
    const page = await listDeadLetters(store, parseDeadLetterFilter(filterInput), {
      limit: intParam(q, 'limit') ?? DEFAULT_DEAD_LETTER_PAGE,
      offset: intParam(q, 'offset') ?? 0,
    });
    return sendJson(res, 200, page);
  } catch (err) {
    return sendError(res, err, options.logger);
  }
}

async function replay(
  store: DeadLetterStore,
  ids: readonly string[],
  toTopic: string | undefined,
  remaining: number,
  options: DeadLetterHttpOptions,
): Promise<{ replayed: ReplayOutcome[]; warnings: string[]; remaining: number }> {
  const replayed = await replayDeadLetters(store, ids, options.publish, {
    toTopic,
    protocolVersion: options.protocolVersion,
  });
  const warnings = replayed.flatMap((r) =>
    r.previous ? [`${r.id} was already replayed at ${r.previous.at} to ${r.previous.topic}`] : [],
  );
  options.logger.info({ replayed: replayed.length, toTopic, remaining }, 'dead letters replayed over HTTP');
  return { replayed, warnings, remaining };
}

/**
 * The JSON body of a POST: `{}` when empty; `application/json` and at most {@link MAX_DEAD_LETTER_BODY_BYTES}
 * (shared with `POST /control`).
 *
 * @throws HttpRouteMQError `RMQ_ERR_DLQ_REQUEST_INVALID` with status 413 (too large), 415 (not JSON's type) or 400.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_DEAD_LETTER_BODY_BYTES) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_DEAD_LETTER_BODY_BYTES) return void chunks.push(chunk);
      // Stop reading, but keep the socket: the 413 still has to go out (then the connection closes).
      req.off('data', onData);
      req.pause();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
  if (body.length === 0) return {};
  // Also what keeps a cross-site form post out: a browser sends application/json only after a CORS preflight.
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw invalid(`content-type '${type}': send application/json`, 415);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw invalid(`the body is not JSON: ${errorMessageOf(err)}`);
  }
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
  throw invalid(`bad body: ${issues.join('; ')}`);
}

function param(q: URLSearchParams, name: string): string | undefined {
  return q.get(name) ?? undefined;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const text = q.get(name);
  if (text === null) return undefined;
  if (!/^\d+$/.test(text)) throw invalid(`${name}='${text}' is not a whole number`);
  return Number(text);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid(`'${segment}' is not a valid path segment`);
  }
}

/** A RouteMQError with the HTTP status to answer it with. */
export class HttpRouteMQError extends RouteMQError {
  readonly status: number;

  constructor(code: ErrorCode, message: string, status: number) {
    super(code, message);
    this.status = status;
  }
}

function invalid(message: string, status = 400): HttpRouteMQError {
  return new HttpRouteMQError(ErrorCodes.DLQ_REQUEST_INVALID, message, status);
}

function tooLarge(): HttpRouteMQError {
  return invalid(`the body is over ${MAX_DEAD_LETTER_BODY_BYTES} bytes`, 413);
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.DLQ_REQUEST_INVALID]: 400,
  [ErrorCodes.DLQ_NOT_FOUND]: 404,
};

function sendError(res: ServerResponse, err: unknown, logger: Logger): void {
  if (err instanceof HttpRouteMQError) {
    // The rest of a body too large is never read: close the connection after answering.
    if (err.status === 413) res.setHeader('connection', 'close');
    return sendJson(res, err.status, { error: err.message, code: err.code });
  }
  if (isRouteMQError(err) && STATUS[err.code] !== undefined) {
    return sendJson(res, STATUS[err.code] as number, { error: err.message, code: err.code });
  }
  // The store (Redis down, disk) or the main connection (not connected) failed: the app may recover, so 503.
  const code = isRouteMQError(err) ? err.code : ErrorCodes.DLQ_STORE_FAILED;
  logger.warn({ err, code }, 'dead-letter HTTP request failed');
  if (!res.headersSent) sendJson(res, 503, { error: errorMessageOf(err), code });
}

/** Answer with a JSON body (shared with the health server). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
