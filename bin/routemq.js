#!/usr/bin/env node
// Entry point. In a checkout the CLI runs from src/, through tsx; an installed package runs the compiled dist/ with
// plain node, and registers tsx only for the commands that load route files (routemq start, routes, doctor,
// sessions adopt), so `routemq --help` and the control commands start fast.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/bin.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  // Read by src/cli/ts-loader.ts: tsx is registered already.
  globalThis[Symbol.for('routemq.tsx-registered')] = true;
  await import(source.href);
} else {
  await import(new URL('../dist/cli/bin.js', import.meta.url).href);
}
