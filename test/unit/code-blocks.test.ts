import { describe, expect, it } from 'vitest';
import { typeScriptBlocks } from '../helpers/code-blocks.js';

// The extractor behind test/package/docs-code.test.ts: which blocks it type-checks, and where it says they are.

describe('typeScriptBlocks', () => {
  it('takes ts and typescript blocks with their fence line, and skips other languages and no-check blocks', () => {
    const text = [
      '# Title', // 1
      '```ts', // 2
      'const a = 1;', // 3
      '```', // 4
      '```sh', // 5
      'npm test', // 6
      '```', // 7
      '```ts no-check', // 8
      'const b = ;', // 9
      '```', // 10
      '```typescript', // 11
      'const c = 3;', // 12
      'const d = 4;', // 13
      '```', // 14
    ].join('\n');
    expect(typeScriptBlocks('README.md', text)).toEqual([
      { file: 'README.md', line: 2, code: 'const a = 1;' },
      { file: 'README.md', line: 11, code: 'const c = 3;\nconst d = 4;' },
    ]);
  });

  it('removes the indentation of a block inside a list item', () => {
    const text = ['- step:', '  ```ts', '  const a = 1;', '    nested();', '  ```'].join('\n');
    expect(typeScriptBlocks('docs/x.md', text)).toEqual([
      { file: 'docs/x.md', line: 2, code: 'const a = 1;\n  nested();' },
    ]);
  });
});
