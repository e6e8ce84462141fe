// The isolate's copy of the key table: refreshed at most every few seconds, so requests pay no
// hop for it and a change (a new or revoked key) reaches every isolate within 5 seconds. The
// lookups requests need (by secret hash, by key id, every allowed origin) are built once per copy.
import type { ConfigSnapshot, KeyGrant } from "./config-object";

const MAX_AGE_MS = 4_000;
const CONFIG_OBJECT = "config";

export interface KeyTable {
  version: number;
  /** Grants by the SHA-256 of their secret. */
  byHash: ReadonlyMap<string, KeyGrant>;
  /** Grants by key id: device tokens name the web key that opened them. */
  byId: ReadonlyMap<string, KeyGrant>;
  /** Every origin some web key allows: a CORS preflight carries no credential. */
  origins: ReadonlySet<string>;
}

let cached: { table: KeyTable; fetchedAt: number } | null = null;

function index(snapshot: ConfigSnapshot): KeyTable {
  const grants = Object.entries(snapshot.keys);
  return {
    version: snapshot.version,
    byHash: new Map(grants),
    byId: new Map(grants.map(([, grant]) => [grant.id, grant])),
    origins: new Set(grants.flatMap(([, grant]) => grant.origins ?? [])),
  };
}

async function refresh(env: Env): Promise<KeyTable> {
  const fresh = await env.CONFIG.getByName(CONFIG_OBJECT).snapshot(cached?.table.version ?? 0);
  const table = fresh ? index(fresh) : (cached?.table ?? index({ version: 0, keys: {} }));
  cached = { table, fetchedAt: Date.now() };
  return table;
}

export function keyTable(env: Env): Promise<KeyTable> | KeyTable {
  if (cached && Date.now() - cached.fetchedAt < MAX_AGE_MS) return cached.table;
  // Each request awaits its own read: a promise shared across requests cannot carry I/O in workerd.
  return refresh(env);
}

/** After a change made in this isolate, read it back at once. */
export function invalidateConfig(): void {
  cached = null;
}

export const configObject = (env: Env) => env.CONFIG.getByName(CONFIG_OBJECT);
