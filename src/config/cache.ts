// The isolate's copy of the configuration: refreshed at most every few seconds, so requests pay
// no hop for it and a change (a new or revoked key) reaches every isolate within 5 seconds.
import type { ConfigSnapshot, KeyGrant } from "./config-object";

const MAX_AGE_MS = 4_000;
const CONFIG_OBJECT = "config";

interface Cached {
  snapshot: ConfigSnapshot;
  fetchedAt: number;
}

let cached: Cached | null = null;

async function refresh(env: Env): Promise<ConfigSnapshot> {
  const fresh = await env.CONFIG.getByName(CONFIG_OBJECT).snapshot(cached?.snapshot.version ?? 0);
  const snapshot = fresh ?? (cached as Cached).snapshot;
  cached = { snapshot, fetchedAt: Date.now() };
  return snapshot;
}

export function configSnapshot(env: Env): Promise<ConfigSnapshot> | ConfigSnapshot {
  if (cached && Date.now() - cached.fetchedAt < MAX_AGE_MS) return cached.snapshot;
  // Each request awaits its own read: a promise shared across requests cannot carry I/O in workerd.
  return refresh(env);
}

const byId = new WeakMap<ConfigSnapshot, Map<string, KeyGrant>>();

/** A key's grant by key id (device tokens name the web key that opened them). */
export async function grantById(env: Env, id: string): Promise<KeyGrant | undefined> {
  const snapshot = await configSnapshot(env);
  let index = byId.get(snapshot);
  if (!index) {
    index = new Map(Object.values(snapshot.keys).map((grant) => [grant.id, grant]));
    byId.set(snapshot, index);
  }
  return index.get(id);
}

/** After a change made in this isolate, read it back at once. */
export function invalidateConfig(): void {
  cached = null;
}

export const configObject = (env: Env) => env.CONFIG.getByName(CONFIG_OBJECT);
