// HTTP plumbing of the API: JSON answers, coded errors, request bodies read under a size cap.
import { HostError } from "./config.js";

export const json = (body, status = 200, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** A HostError's body: `{ error: { code, message, ...details } }`. */
export const errorBody = (e) => ({ error: { code: e.code, message: e.message, ...(e.details ?? {}) } });

export function errorResponse(e) {
  if (e instanceof HostError) {
    const headers = { ...(e.status === 401 ? { "www-authenticate": 'Bearer realm="drillgen"' } : {}), ...(e.headers ?? {}) };
    return json(errorBody(e), e.status, headers);
  }
  // drillgen's coded errors describe the caller's request (API keys are already removed from them).
  if (e?.name === "DrillgenError") return json({ error: { code: e.code, message: e.message } }, 400);
  console.error("drillgen worker: internal error", e);
  return json({ error: { code: "INTERNAL", message: "internal error" } }, 500);
}

export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The body's bytes, capped while streaming (Content-Length may be absent or wrong). */
export async function readBytes(request, maxBytes) {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  const tooLarge = () => new HostError(413, "BODY_TOO_LARGE", `the body exceeds ${maxBytes} bytes`);
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) throw new HostError(400, "INVALID_JSON", "the body is empty");
  const chunks = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await drain(reader);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

export function parseJson(bytes) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HostError(400, "INVALID_JSON", "the body is not valid JSON");
  }
}

export const readJson = async (request, maxBytes) => parseJson(await readBytes(request, maxBytes));

/**
 * Reads and drops what is left of a refused request's body, up to 1 MiB, so that the client gets
 * the error response rather than a reset connection while it is still sending; then cancels.
 */
async function drain(reader) {
  try {
    for (let size = 0; size <= 1024 * 1024; ) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the client went away: nothing to answer
  }
}

export async function discardBody(request) {
  if (request.body && !request.bodyUsed && !request.body.locked) await drain(request.body.getReader());
}

/** A page of at most `limit` rows (`?limit=`, 1 to `max`, default `fallback`). */
export function limitParam(url, fallback, max) {
  const raw = url.searchParams.get("limit");
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HostError(400, "INVALID_QUERY", `limit must be an integer from 1 to ${max}`);
  return n;
}
