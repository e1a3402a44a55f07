// Preloaded into the benchmark's Azurite (node --require): make its blob lookups scale like Blob storage.
//
// Azurite keeps the metadata of every blob of every container in one LokiJS collection with binary
// indices on accountName, containerName and name. LokiJS applies the fields of a query object in key
// order, and Azurite's lookups start with accountName, which every blob shares: each request scans every
// blob the emulator holds. And deleting one blob marks all indices dirty, so the next lookup re-sorts them.
// Per-request cost grows with the corpus (measured: ~2 ms at 2,000 blobs, ~6 ms at 12,000), which would
// make the benchmark measure the emulator rather than Harvest. This patch changes no result:
//   * an equality query on `name`/`blobName` applies that field first (a binary-index lookup), then
//     filters the few matches by the other fields, exactly as before;
//   * removing a single document updates the indices in place (LokiJS's own single-document path)
//     instead of flagging them for a full re-sort.
"use strict";
const path = require("path");

const loki = require(require.resolve("lokijs", { paths: [path.join(process.cwd(), "node_modules", "azurite")] }));
const LEADS = ["name", "blobName"];

function reorder(query) {
  if (!query || typeof query !== "object" || Array.isArray(query)) return query;
  const keys = Object.keys(query);
  if (keys.length < 2) return query;
  const lead = LEADS.find((k) => k in query && (query[k] === null || typeof query[k] !== "object"));
  if (!lead || keys[0] === lead) return query;
  const out = { [lead]: query[lead] };
  for (const k of keys) if (k !== lead) out[k] = query[k];
  return out;
}

const find = loki.Resultset.prototype.find;
loki.Resultset.prototype.find = function (query, firstOnly) {
  return find.call(this, reorder(query), firstOnly);
};

const removeBatchByPositions = loki.Collection.prototype.removeBatchByPositions;
loki.Collection.prototype.removeBatchByPositions = function (positions) {
  if (positions.length === 1 && this.adaptiveBinaryIndices) {
    return this.remove(this.data[positions[0]]);
  }
  return removeBatchByPositions.call(this, positions);
};
