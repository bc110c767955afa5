// How the consumer tests type-check: as a strict TypeScript user of the package would.
export const TSC_STRICT = [
  "--noEmit",
  "--strict",
  "--module",
  "nodenext",
  "--moduleResolution",
  "nodenext",
  "--target",
  "es2022",
  "--lib",
  "es2022,dom",
  "--skipLibCheck",
  "false",
];
