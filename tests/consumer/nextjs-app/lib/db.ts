// The app's own database as the README's route sees it (Prisma, Drizzle or SQL in a real app):
// here one JSON file per series in $DRILLS_DB, so the test can read back what `persist` stored.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BatchProgress, Drill, GenerationResult, Position, PromptContext } from "drillgen";
import context from "@/data/context.json";
import positions from "@/data/positions.json";

interface SeriesRow {
  drills: Drill[];
  batchProgress: BatchProgress | null;
  status?: GenerationResult["status"];
  warnings?: string[];
}

const dir = () => process.env.DRILLS_DB ?? join(process.cwd(), ".data");
const file = (seriesId: string) => join(dir(), `${seriesId.replace(/[^\w-]/g, "_")}.json`);

async function readSeries(seriesId: string): Promise<SeriesRow> {
  try {
    return JSON.parse(await readFile(file(seriesId), "utf8")) as SeriesRow;
  } catch {
    return { drills: [], batchProgress: null };
  }
}

export async function loadPositions(): Promise<Position[]> {
  return positions as Position[];
}

export async function loadContext(): Promise<PromptContext> {
  return context;
}

let writes: Promise<void> = Promise.resolve(); // one write at a time, as a transaction would

/** Reads, changes and writes one series' row; drills are upserted by `drillId` (the idempotency key). */
function update(seriesId: string, drills: Drill[], change: Partial<SeriesRow>): Promise<void> {
  const write = writes.then(async () => {
    const row = await readSeries(seriesId);
    const byId = new Map(row.drills.map((d) => [d.drillId, d]));
    for (const drill of drills) byId.set(drill.drillId, drill);
    await mkdir(dir(), { recursive: true });
    await writeFile(file(seriesId), JSON.stringify({ ...row, ...change, drills: [...byId.values()] }));
  });
  writes = write.catch(() => {});
  return write;
}

/** A batch's drills, and the progress it reports. */
export function saveDrills(seriesId: string, drills: Drill[], batchProgress: BatchProgress): Promise<void> {
  return update(seriesId, drills, { batchProgress });
}

/** The run's outcome: status, batchProgress and warnings, and the drills `persist` could not store. */
export function saveResult(seriesId: string, result: GenerationResult): Promise<void> {
  const { status, batchProgress, warnings, unpersistedDrills } = result;
  return update(seriesId, unpersistedDrills, { status, batchProgress, warnings: warnings.map((w) => w.code) });
}

export async function loadDrills(seriesId: string): Promise<Drill[]> {
  return (await readSeries(seriesId)).drills;
}
