// What the simulated model writes: the words of each drill it is asked for, read from the prompt
// the way a model reads it (drill blocks, each with its position, options and correct option).

/** Rough token count (4 characters a token): the simulator times and bills its output with it;
 * prompts and cached prefixes are counted by a real tokenizer (tokens.mjs). */
export const tokens = (text) => Math.ceil(text.length / 4);

const field = (lines, name) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";

/** The drills a batch prompt asks for: `## Drill k of n (index i)` blocks, in order. */
export function parseDrills(user) {
  return user
    .split(/^## Drill /m)
    .slice(1)
    .map((block) => {
      const lines = block.split("\n");
      const index = Number(lines[0].match(/\(index (\d+)\)/)?.[1] ?? -1);
      const [, id, phase] = (lines.find((l) => l.startsWith("### Position ")) ?? "").match(/^### Position (\S+) \((\w+)\)/) ?? [];
      const correct = field(lines, "Correct option").match(/^([A-D]) \((.*)\), the engine's best move$/) ?? [];
      return {
        index,
        id,
        phase,
        dice: field(lines, "Dice").split(" ")[0],
        best: field(lines, "Best move").replace(/ \(equity [^)]*\)$/, ""),
        analysis: field(lines, "Analysis"),
        options: field(lines, "Options the student sees").split(" | ").filter(Boolean),
        correctId: correct[1] ?? "A",
      };
    });
}

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** The analyses end on their lesson ("Remember: …", "The general rule is …"): that is the principle. */
function principleOf(analysis) {
  const last =
    analysis
      .trim()
      .split(/(?<=[.!?])\s+/)
      .at(-1) ?? "";
  const colon = last.indexOf(": ");
  const lesson = colon > 0 && colon < 40 ? last.slice(colon + 2) : last;
  return capitalize(lesson.replace(/[.!]$/, "")) || "Make the points that matter";
}

/** Deterministic, plausible drill texts that name the correct option as the prompt gives it. */
export function writeDrills(asked) {
  return asked.map((d) => {
    const firstSentences = d.analysis
      .split(/(?<=\.)\s/)
      .slice(0, 2)
      .join(" ");
    return {
      title: `${capitalize((d.phase ?? "game").toLowerCase())} · ${d.dice} to play`,
      principle: principleOf(d.analysis),
      question: `You are on roll with ${d.dice}. Which play is best?`,
      explanation: `${d.correctId} (${d.best}) is best. ${firstSentences}`,
      difficulty: ["BEGINNER", "INTERMEDIATE", "ADVANCED"][Math.max(d.index, 0) % 3],
    };
  });
}
