// A live terminal progress bar fed by drillgen's progress events: the bar, the counts, the
// per-batch message, and one chip per batch. Without a TTY it prints one line per event.
const CHIP = { pending: "·", generating: "▶", retrying: "↻", completed: "✔", failed: "✖", skipped: "✔" };

export function progressBar({ totalBatches, stream = process.stderr }) {
  const chips = Array(totalBatches).fill("pending");
  const tty = stream.isTTY;
  let last = "";
  const render = (e) => {
    const width = 30;
    const done = Math.round((width * e.current) / Math.max(1, e.total));
    const bar = `${"█".repeat(done)}${"░".repeat(width - done)}`;
    const line = `[${bar}] ${String(e.current).padStart(3)}/${e.total}  ${chips.map((c) => CHIP[c]).join("")}  ${e.message}`;
    if (tty) {
      stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
    } else if (line !== last) {
      stream.write(`${line}\n`);
    }
    last = line;
  };
  return {
    onProgress(e) {
      if (e.batchIndex !== undefined) {
        chips[e.batchIndex] =
          { batchStarted: "generating", batchRetrying: "retrying", batchCompleted: "completed", batchFailed: "failed" }[e.type] ??
          chips[e.batchIndex];
      }
      render(e);
      if (e.type === "runFinished" && tty) stream.write("\n");
    },
    skip(batchIndex) {
      chips[batchIndex] = "skipped";
    },
  };
}
