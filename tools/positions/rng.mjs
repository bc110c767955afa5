// Seeded random streams. Every random choice of the generator comes from here (no Math.random, no
// clock), so two runs write byte-identical libraries.

/** mulberry32: tiny, well-mixed 32-bit PRNG; plenty for sampling games and prose. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One independent stream per phase, so editing one phase's templates does not reshuffle the others. */
export function makeRng(seed) {
  const next = mulberry32(seed);
  const rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    shuffle: (items) => {
      const a = items.slice();
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
    /** Deals a pool in shuffled order and reshuffles when empty, so no phrasing repeats before the pool is used up. */
    deck: (items) => {
      let hand = [];
      return () => {
        if (hand.length === 0) hand = rng.shuffle(items);
        return hand.pop();
      };
    },
  };
  return rng;
}
