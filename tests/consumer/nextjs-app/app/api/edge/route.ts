import { planAndGenerate } from "@/lib/run";

export const runtime = "edge";
export const dynamic = "force-dynamic";

export async function GET(request: Request) {
  const count = Number(new URL(request.url).searchParams.get("count") ?? 10);
  return Response.json(await planAndGenerate("edge", count));
}
