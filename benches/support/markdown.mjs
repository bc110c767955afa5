// What the benchmarks print: Markdown tables, ready to paste into the README.

/** A Markdown table of `head` and `rows` (arrays of cells). */
export function markdownTable(head, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
