// Idempotency-Key on POST /series and POST /series/:id/resume: the same tenant and key within 24 h
// get the first answer (status and body) and start nothing; the same key with another request
// (method, path or body) is 409 IDEMPOTENCY_KEY_REUSED. The key is reserved before anything is
// started, so two concurrent requests with one key start one series.
import { digestHex } from "./auth.js";
import { HostError } from "./config.js";
import { errorBody, json } from "./http.js";

const KEY = /^[\x21-\x7e]{1,255}$/; // printable ASCII, as Stripe and the IETF draft use it
/** A reservation older than this without an answer belongs to a request that died (Worker limit: 30 s of CPU, far less in practice). */
const ABANDONED_AFTER_S = 120;

/**
 * Runs `handler.run(reserve)` once per key: `reserve(seriesId)` records the series the request is
 * about before it writes anything, and the answer is stored. An error thrown before anything was
 * written (e.committed falsy) frees the key; one thrown after is stored and replayed like a success.
 * A reservation abandoned by a dead request is answered by `handler.recover(seriesId)` (from what
 * D1 holds), or run again when nothing was written.
 */
export async function idempotent(request, db, tenant, bodyText, handler) {
  const key = request.headers.get("idempotency-key");
  if (key === null) {
    const { status, body } = await handler.run(async () => {});
    return json(body, status);
  }
  if (!KEY.test(key)) throw new HostError(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 255 printable ASCII characters");
  const { pathname } = new URL(request.url);
  const fingerprint = await digestHex(`${request.method} ${pathname}\n${bodyText}`);
  await db.prepare("DELETE FROM idempotency WHERE tenant = ? AND created_at < datetime('now', '-1 day')").bind(tenant).run();
  const claim = () =>
    db
      .prepare("INSERT INTO idempotency (tenant, key, fingerprint) VALUES (?, ?, ?) ON CONFLICT (tenant, key) DO NOTHING")
      .bind(tenant, key, fingerprint)
      .run();
  if ((await claim()).meta.changes === 0) {
    const row = await db
      .prepare(
        `SELECT fingerprint, series_id, status, response, (julianday('now') - julianday(created_at)) * 86400 AS age_s
         FROM idempotency WHERE tenant = ? AND key = ?`,
      )
      .bind(tenant, key)
      .first();
    if (row && row.fingerprint !== fingerprint) {
      throw new HostError(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request in the last 24 h");
    }
    if (row?.response != null) return json(JSON.parse(row.response), row.status, { "idempotent-replayed": "true" });
    if (row && row.age_s < ABANDONED_AFTER_S) {
      const e = new HostError(
        409,
        "IDEMPOTENCY_KEY_IN_USE",
        "a request with this Idempotency-Key is still being answered; retry in a few seconds",
      );
      e.headers = { "retry-after": "5" };
      throw e;
    }
    const recovered = row?.series_id ? await handler.recover(row.series_id) : null;
    if (recovered) return store(db, tenant, key, recovered);
    await db.prepare("DELETE FROM idempotency WHERE tenant = ? AND key = ? AND response IS NULL").bind(tenant, key).run();
    if ((await claim()).meta.changes === 0)
      throw new HostError(409, "IDEMPOTENCY_KEY_IN_USE", "another request just took this Idempotency-Key");
  }
  const reserve = (seriesId) =>
    db.prepare("UPDATE idempotency SET series_id = ? WHERE tenant = ? AND key = ?").bind(seriesId, tenant, key).run();
  let result;
  try {
    result = await handler.run(reserve);
  } catch (e) {
    if (!e?.committed) {
      await db.prepare("DELETE FROM idempotency WHERE tenant = ? AND key = ? AND response IS NULL").bind(tenant, key).run();
      throw e;
    }
    return store(db, tenant, key, { status: e.status, body: errorBody(e) });
  }
  return store(db, tenant, key, result);
}

async function store(db, tenant, key, { status, body }) {
  await db
    .prepare("UPDATE idempotency SET status = ?, response = ? WHERE tenant = ? AND key = ?")
    .bind(status, JSON.stringify(body), tenant, key)
    .run();
  return json(body, status);
}
