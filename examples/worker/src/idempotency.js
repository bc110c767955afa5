// Idempotency-Key on POST /series and POST /series/:id/resume: the same tenant and key within 24 h
// get the first answer (status and body) and start nothing; the same key with another request
// (method, path or body) is 409 IDEMPOTENCY_KEY_REUSED. The key is reserved before anything is
// started, so two concurrent requests with one key start one series. The stored answer is looked
// up before the rate limit: a retry of an answered request is never refused 429.
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
 *
 * `handler.admit()` runs only when the request will run (no key, or a key with no earlier answer),
 * before the key is claimed: the rate limit goes there, so a replay, a 409 IDEMPOTENCY_KEY_REUSED
 * or IDEMPOTENCY_KEY_IN_USE never uses a slot, and a refused request (429) claims nothing.
 */
export async function idempotent(request, db, tenant, bodyText, handler) {
  const admit = handler.admit ?? (async () => {});
  const key = request.headers.get("idempotency-key");
  if (key === null) {
    await admit();
    const { status, body } = await handler.run(async () => {});
    return json(body, status);
  }
  if (!KEY.test(key)) throw new HostError(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 255 printable ASCII characters");
  const { pathname } = new URL(request.url);
  const fingerprint = await digestHex(`${request.method} ${pathname}\n${bodyText}`);
  const lookup = () =>
    db
      .prepare(
        `SELECT fingerprint, series_id, status, response, (julianday('now') - julianday(created_at)) * 86400 AS age_s
         FROM idempotency WHERE tenant = ? AND key = ? AND created_at >= datetime('now', '-1 day')`,
      )
      .bind(tenant, key)
      .first();
  /** The answer an earlier request with this key gives (or throws); null when the key is free to take. */
  const earlier = async (row) => {
    if (!row) return null;
    if (row.fingerprint !== fingerprint) {
      throw new HostError(409, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request in the last 24 h");
    }
    if (row.response != null) return json(JSON.parse(row.response), row.status, { "idempotent-replayed": "true" });
    if (row.age_s < ABANDONED_AFTER_S) {
      const e = new HostError(
        409,
        "IDEMPOTENCY_KEY_IN_USE",
        "a request with this Idempotency-Key is still being answered; retry in a few seconds",
      );
      e.headers = { "retry-after": "5" };
      throw e;
    }
    const recovered = row.series_id ? await handler.recover(row.series_id) : null;
    if (recovered) return store(db, tenant, key, recovered);
    // Abandoned before it wrote anything: the key is free again.
    await db.prepare("DELETE FROM idempotency WHERE tenant = ? AND key = ? AND response IS NULL").bind(tenant, key).run();
    return null;
  };
  const answered = await earlier(await lookup());
  if (answered) return answered;
  await admit();
  await db.prepare("DELETE FROM idempotency WHERE tenant = ? AND created_at < datetime('now', '-1 day')").bind(tenant).run();
  const claim = () =>
    db
      .prepare("INSERT INTO idempotency (tenant, key, fingerprint) VALUES (?, ?, ?) ON CONFLICT (tenant, key) DO NOTHING")
      .bind(tenant, key, fingerprint)
      .run();
  if ((await claim()).meta.changes === 0) {
    // Another request with this key claimed it since the lookup.
    const raced = await earlier(await lookup());
    if (raced) return raced;
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
