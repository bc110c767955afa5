// What the library must look like (counts, text sizes), and the hand-written tables the generator
// reads from data/gen/ (see data/gen/README.md).
import { readFileSync } from "node:fs";

export const PER_PHASE = 36;
/** Target size of one position as a prompt shows it, in o200k tokens (header plus analysis). */
export const TOKENS_GOAL = 280;
export const WORDS_MIN = 85;
export const WORDS_MAX = 130;

const readData = (name) => JSON.parse(readFileSync(new URL(`../../data/gen/${name}`, import.meta.url), "utf8"));
/** Standard plays for the 21 first rolls, with hand-set equities and notes. */
export const OPENING_BOOK = readData("opening-book.json");
/** Every pool of phrasings (intros, contexts, fillers, lessons, remarks). */
export const PHRASES = readData("phrases.json");
