/** A request on the control socket: one JSON line. */
export type ControlRequest =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'stop' }
  | { readonly cmd: 'scale'; readonly pool: string; readonly count: number }
  | { readonly cmd: 'restart-worker'; readonly workerId: string };

/** The answer: one JSON line. */
export type ControlResponse =
  | { readonly ok: true; readonly result?: unknown }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

const COMMANDS = new Set(['status', 'reload', 'stop', 'scale', 'restart-worker']);

/** Parse and check one request line; `undefined` when it is not a valid request. */
export function parseControlRequest(line: string): ControlRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { cmd } = value as { cmd?: unknown };
  if (typeof cmd !== 'string' || !COMMANDS.has(cmd)) return undefined;
  if (cmd === 'scale') {
    const { pool, count } = value as { pool?: unknown; count?: unknown };
    if (typeof pool !== 'string' || typeof count !== 'number') return undefined;
  }
  if (cmd === 'restart-worker' && typeof (value as { workerId?: unknown }).workerId !== 'string') return undefined;
  return value as ControlRequest;
}
