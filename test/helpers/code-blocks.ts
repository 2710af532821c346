/** A fenced code block of a Markdown file. */
export interface CodeBlock {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
}

/**
 * The ```ts / ```typescript blocks of a Markdown text, without those fenced `no-check` (```ts no-check), which are
 * not meant to compile alone. An indented fence (in a list item) has its indentation removed from every line.
 */
export function typeScriptBlocks(file: string, text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)(\s.*)?$/.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? ''); i++) body.push((lines[i] ?? '').slice(indent));
    if (!(open[3] ?? '').includes('no-check')) blocks.push({ file, line: start + 1, code: body.join('\n') });
  }
  return blocks;
}
