// Number and word formatting shared by all the prose, and `fill`, which turns a phrase from
// data/gen/phrases.json into text.

export const round3 = (x) => Math.round(x * 1000) / 1000;
export const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
export const fmtEq = (x) => x.toFixed(3);
export const signedEq = (x) => (x >= 0 ? "+" : "") + x.toFixed(3);
export const wordCount = (text) => text.split(/\s+/).filter(Boolean).length;
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
export const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
export const numWord = (n) => NUMBER_WORDS[n] ?? String(n);
export const pluralW = (n, one, many = `${one}s`) => `${numWord(n)} ${n === 1 ? one : many}`;

export const listText = (items) => (items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`);

/**
 * Turns a phrase from data/gen/phrases.json into text. `slots` maps each
 * {name} to a function, so only the facts a phrase names are worked out;
 * {Name} gives the value capitalized. A phrase { when, then, else } picks
 * its text by the yes/no slot `when`.
 */
export function fill(phrase, slots) {
  const slot = (name) => {
    if (!slots[name]) throw new Error(`unknown phrase slot {${name}}`);
    return slots[name]();
  };
  const text = typeof phrase === "string" ? phrase : slot(phrase.when) ? phrase.then : phrase.else;
  return text.replace(/\{(\w+)\}/g, (_, name) => {
    const lower = name.charAt(0).toLowerCase() + name.slice(1);
    const value = String(slot(lower));
    return lower === name ? value : capitalize(value);
  });
}
