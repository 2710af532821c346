/** Set once tsx is registered in this process (bin/routemq.js sets it in a checkout, where the CLI runs from src/). */
const REGISTERED = Symbol.for('routemq.tsx-registered');

/**
 * Register tsx's ESM loader, once per process, so route files (`routers/*.ts`) and `--traffic` modules load
 * without a build step. Only the commands that import the user's TypeScript call it (as a commander `preAction`
 * hook): registering it costs ~0.25 s of CPU (measured), which `routemq --help` and the control commands do not pay.
 */
export async function registerTypeScriptLoader(): Promise<void> {
  const slot = globalThis as { [REGISTERED]?: boolean };
  if (slot[REGISTERED]) return;
  slot[REGISTERED] = true;
  const { register } = await import('tsx/esm/api');
  register();
}
