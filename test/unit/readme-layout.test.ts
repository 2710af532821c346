import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
const layout = readme.slice(readme.indexOf('## Layout'), readme.indexOf('\n## ', readme.indexOf('## Layout') + 1));

function folders(dir: string): string[] {
  return readdirSync(`${root}${dir}`, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `${dir}/${e.name}/`);
}

describe("README's layout section", () => {
  it('names every folder of src/ and test/, and no folder that does not exist', () => {
    const actual = [...folders('src'), ...folders('test')];
    for (const folder of actual) expect(layout, folder).toContain(folder);
    const named = [...layout.matchAll(/\b((?:src|test)\/[a-z-]+\/)/g)].map((m) => m[1]);
    expect(named.filter((f) => !actual.includes(f as string))).toEqual([]);
  });
});
