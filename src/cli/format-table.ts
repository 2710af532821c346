/** Render rows of strings as an aligned plain-text table with a header line. */
export function formatTable(rows: readonly Record<string, string>[]): string {
  const first = rows[0];
  if (!first) return '(none)\n';
  const columns = Object.keys(first);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? '')))]
    .join('\n')
    .concat('\n');
}
