#!/usr/bin/env node
// `npm create routemq <dir> [-- --name <name> --routemq <spec>]` runs this bin (npm's `create <x>` runs the bin of
// `create-<x>`). It is `routemq new <dir> …`: the installed routemq's own CLI, run in this process, so the arguments,
// the templates, the output and the errors (`routemq: RMQ_ERR_…`, exit code 1) are the ones of `routemq new`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const manifestPath = createRequire(import.meta.url).resolve('routemq/package.json');
/** @type {unknown} */
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const bin = /** @type {{ bin?: Record<string, string> }} */ (manifest).bin?.['routemq'];
if (bin === undefined) {
  process.stderr.write(`create-routemq: the routemq package at ${dirname(manifestPath)} has no 'routemq' bin\n`);
  process.exit(1);
}
// routemq's CLI parses process.argv: [node, script, command, ...args].
process.argv.splice(2, 0, 'new');
await import(pathToFileURL(join(dirname(manifestPath), bin)).href);
