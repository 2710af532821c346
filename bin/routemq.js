#!/usr/bin/env node
// Entry point. tsx is registered first so route files (`routers/*.ts`) load without a build step. In a checkout
// the CLI runs from src/; an installed package runs the compiled dist/.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const source = new URL('../src/cli/bin.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/bin.js', import.meta.url).href);
