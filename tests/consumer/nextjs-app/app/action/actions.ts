"use server";

import { planAndGenerate, type RunSummary } from "@/lib/run";

export async function generate(_previous: RunSummary | null, form: FormData): Promise<RunSummary> {
  return planAndGenerate("action", Number(form.get("count")));
}
