import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES } from '../../src/config/schema.js';
import type { ConfigVariable } from '../../src/config/schema.js';

const root = new URL('../../', import.meta.url);
const envExample = readFileSync(fileURLToPath(new URL('.env.example', root)), 'utf8');
const docs = readFileSync(fileURLToPath(new URL('docs/configuration.md', root)), 'utf8');

/** Active (`NAME=value`) and commented-out (`# NAME=value`) assignments, in file order. */
const assignments = [...envExample.matchAll(/^[ \t]*(?:#[ \t]*)?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({
  name: m[1]!,
  value: m[2]!.trim(),
}));

describe('.env.example', () => {
  it('assigns exactly the variables of the schema, once each', () => {
    const names = assignments.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it('shows each default as the assigned value', () => {
    for (const { name, value } of assignments) {
      const fallback: string | number | boolean | undefined = CONFIG_DEFAULTS[name as ConfigVariable];
      // The instance id defaults to the host name, which differs per machine.
      const expected = fallback === undefined || name === 'ROUTEMQ_INSTANCE_ID' ? '' : String(fallback);
      expect(value, name).toBe(expected);
    }
  });

  it('gives every assignment a comment on the line before it', () => {
    const lines = envExample.split('\n');
    for (const { name } of assignments) {
      const index = lines.findIndex((line) => new RegExp(`^#?\\s*${name}=`).test(line));
      expect(lines[index - 1], name).toMatch(/^# \S/);
    }
  });
});

describe('docs/configuration.md', () => {
  it('has a table row for every variable', () => {
    for (const name of CONFIG_VARIABLES) {
      expect(docs, name).toContain(`| \`${name}\``);
    }
  });
});
