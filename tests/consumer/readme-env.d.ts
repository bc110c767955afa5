// What the README's TypeScript samples take as given: the host's own data and services.
import type { Drill, JsonValue, Position } from "drillgen";

declare global {
  const pool: Position[];
  const mentalModel: JsonValue;
  const curriculum: JsonValue;
  const guruProfile: JsonValue;
  const storedDrills: Drill[];
  const signal: AbortSignal;
  const apiKey: string;
  const db: {
    saveDrills(seriesId: string, drills: Drill[]): Promise<void>;
    loadDrills(seriesId: string): Promise<Drill[]>;
  };
}
