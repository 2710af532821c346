// Worker process bootstrap (forked by WorkerManager): register tsx so route files load without a build step,
// then run the worker's main module from src/ in a checkout, or from dist/ in an installed package.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const source = new URL('../src/worker/worker-entry.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/worker/worker-entry.js', import.meta.url).href);
