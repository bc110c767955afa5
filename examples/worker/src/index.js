// A Cloudflare Worker host of drillgen for several tenants: a secured HTTP API in front of one
// Workflow instance per run of a drill series (src/workflow.js), with D1 as the store.
//   PUT    /context              body: PromptContext        the tenant's teacher material
//   POST   /positions            body: Position[]           insert-only import: { inserted, versioned, unchanged }
//   GET    /positions?phase=                                counts per phase and a page of positions
//   DELETE /positions/:id                                   removes a position from the library
//   POST   /series               body: DrillRequest & {seed?, context?}  202 { id, plan, budget, warnings }
//   GET    /series?status=                                  the tenant's series, newest first
//   GET    /series/:id                                      the artifact row, progress, batches, drills, instance status
//   POST   /series/:id/resume                               202: a new run that generates only the missing batches
//                                                           (409 SERIES_COMPLETE when no drill is missing)
// Every route needs `Authorization: Bearer <token>`; the token names the tenant (src/auth.js).
// Bindings: DB (D1), SERIES_WORKFLOW (Workflow), SERIES_RATE_LIMITER (rate limiting), RATE_GOVERNOR
// (Durable Object: the LLM rate governor shared by every step, src/governor.js); secrets
// API_TOKEN, LLM_API_KEY; vars in wrangler.toml (documented in README.md).
import { authenticate } from "./auth.js";
import { HostError, settings } from "./config.js";
import { discardBody, errorResponse } from "./http.js";
import { deletePosition, importPositions, listPositions, putContext } from "./library.js";
import { listSeries, readSeries, resumeSeries, startSeries } from "./series.js";

export { RateGovernorDO } from "./governor.js";
export { DrillSeriesWorkflow } from "./workflow.js";

const SERIES_PATH = /^\/series\/([0-9a-f-]{36})(\/resume)?$/;
const POSITION_PATH = /^\/positions\/([^/]{1,200})$/;

/** A path segment, percent-decoded; a malformed escape is the caller's 400, not a 500. */
function decodePath(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HostError(400, "INVALID_QUERY", "the path has a malformed percent-escape");
  }
}

async function route(request, env) {
  const tenant = await authenticate(request, env);
  const cfg = settings(env);
  const url = new URL(request.url);
  const { pathname } = url;
  const { method } = request;
  if (method === "PUT" && pathname === "/context") return putContext(request, env, cfg, tenant);
  if (method === "POST" && pathname === "/positions") return importPositions(request, env, cfg, tenant);
  if (method === "GET" && pathname === "/positions") return listPositions(env, tenant, url);
  if (method === "POST" && pathname === "/series") return startSeries(request, env, cfg, tenant);
  if (method === "GET" && pathname === "/series") return listSeries(env, tenant, url);
  const position = pathname.match(POSITION_PATH);
  if (position && method === "DELETE") return deletePosition(env, tenant, decodePath(position[1]));
  const series = pathname.match(SERIES_PATH);
  if (series && method === "GET" && !series[2]) return readSeries(env, tenant, series[1]);
  if (series && method === "POST" && series[2]) return resumeSeries(request, env, cfg, tenant, series[1]);
  throw new HostError(404, "NOT_FOUND", `no route ${method} ${pathname}`);
}

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (e) {
      await discardBody(request);
      return errorResponse(e);
    }
  },
};
