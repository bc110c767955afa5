// The page's storage: IndexedDB, as the host callback `persist` of drillgen writes it and `load`
// reads it back. Two stores: artifacts (the series, with batchProgress) and drills (keyed drillId).
const NAME = "drillgen-demo";

const request = (r) =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = tx.onabort = () => reject(tx.error);
  });

export async function openStore() {
  const open = indexedDB.open(NAME, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore("artifacts", { keyPath: "id" });
    db.createObjectStore("drills", { keyPath: "drillId" }).createIndex("artifactId", "artifactId");
  };
  const db = await request(open);
  return {
    async putArtifact(artifact) {
      const tx = db.transaction("artifacts", "readwrite");
      tx.objectStore("artifacts").put({ ...artifact, updatedAt: Date.now() });
      await done(tx);
    },
    async latestArtifact() {
      const all = await request(db.transaction("artifacts").objectStore("artifacts").getAll());
      return all.sort((a, b) => b.updatedAt - a.updatedAt)[0] ?? null;
    },
    /**
     * One transaction per batch: its drills and the artifact's batchProgress land together. Without
     * batchProgress (drills kept after the run) only the drills are written; the run's end sets it.
     */
    async putDrills(artifactId, drills, batchProgress) {
      const tx = db.transaction(["drills", "artifacts"], "readwrite");
      for (const d of drills) tx.objectStore("drills").put({ ...d, artifactId });
      const artifacts = tx.objectStore("artifacts");
      const artifact = batchProgress && (await request(artifacts.get(artifactId)));
      if (artifact) artifacts.put({ ...artifact, batchProgress, updatedAt: Date.now() });
      await done(tx);
    },
    async loadDrills(artifactId) {
      const rows = await request(db.transaction("drills").objectStore("drills").index("artifactId").getAll(artifactId));
      return rows.filter((d) => d.batchStatus === "COMPLETED").sort((a, b) => a.index - b.index);
    },
  };
}
