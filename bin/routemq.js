#!/usr/bin/env node
// Entry point. tsx is registered first so route files (`routers/*.ts`) load without a build step. In a checkout
// the CLI runs from src/; an installed package runs the compiled dist/.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
// The app's OpenTelemetry set-up (docs/tracing.md) loads before any other module of `routemq start`, so that its
// instrumentations see them load. `start` imports it again after reading .env: a no-op for the same file.
const instrumentation = process.env.ROUTEMQ_INSTRUMENTATION;
if (instrumentation && process.argv[2] === 'start') {
  const file = resolve(instrumentation);
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      `routemq: RMQ_ERR_INSTRUMENTATION_FAILED: The instrumentation module '${file}' failed to load: ${why}\n`,
    );
    process.exit(1);
  }
}
const source = new URL('../src/cli/bin.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/bin.js', import.meta.url).href);
