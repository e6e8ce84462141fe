// The isolate's copy of the key table: refreshed at most every few seconds, so requests pay no
// hop for it and a change (a new or revoked key) reaches every isolate within 5 seconds. The
// lookups requests need (by secret hash, by key id, every allowed origin) are built once per copy.
import type { ConfigSnapshot, KeyGrant } from "./config-object";

/** A copy this old is read again, by one request of the isolate. */
export const REFRESH_AFTER_MS = 3_500;
/** No request uses a copy this old: with the read itself, a change shows within 5 s. */
export const MAX_AGE_MS = 4_500;
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
/** When this isolate's refresh started; null while none is in flight. */
let refreshStarted: number | null = null;
/** Counts this isolate's own changes: a read sent before one never replaces what follows it. */
let generation = 0;

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
  // A copy is as old as the moment it was asked for, not the moment the answer arrived.
  const sentAt = Date.now();
  const asked = cached;
  const sentGeneration = generation;
  const fresh = await env.CONFIG.getByName(CONFIG_OBJECT).snapshot(asked?.table.version ?? 0);
  const table = fresh ? index(fresh) : (asked?.table ?? index({ version: 0, keys: {} }));
  // An answer overtaken by a newer copy, or by this isolate's own change, is not kept: it could
  // hold a key revoked since.
  const newest = !cached || (cached.fetchedAt <= sentAt && cached.table.version <= table.version);
  if (sentGeneration === generation && newest) {
    cached = { table, fetchedAt: sentAt };
  }
  return table;
}

/**
 * Whether a request reads the key table itself: when there is no copy, when the copy is due and
 * no other request of the isolate is reading it, and always once the copy is too old to use.
 * The ConfigObject is one object for every isolate, so one read per isolate, not one per request
 * in flight, keeps it off the request path.
 */
export function mustRefresh(
  now: number,
  fetchedAt: number | null,
  started: number | null,
): boolean {
  if (fetchedAt === null) return true;
  const age = now - fetchedAt;
  if (age < REFRESH_AFTER_MS) return false;
  // A read that has not answered by the time the copy expires no longer counts.
  const othersReading = started !== null && now - started < MAX_AGE_MS - REFRESH_AFTER_MS;
  return !othersReading || age >= MAX_AGE_MS;
}

export function keyTable(env: Env): Promise<KeyTable> | KeyTable {
  const now = Date.now();
  if (cached && !mustRefresh(now, cached.fetchedAt, refreshStarted)) return cached.table;
  // The request awaits its own read: a promise shared across requests cannot carry I/O in workerd.
  refreshStarted = now;
  const reading = refresh(env).finally(() => {
    // A later read may have taken over after this one was given up on: that one still counts.
    if (refreshStarted === now) refreshStarted = null;
  });
  const usable = cached && now - cached.fetchedAt < MAX_AGE_MS ? cached : null;
  if (!usable) return reading;
  // A copy still young enough to use answers when the read fails, or has not answered by the
  // time the copy expires: the one request that reads is not the one a ConfigObject fault fails.
  let timer: ReturnType<typeof setTimeout> | null = null;
  const expiry = new Promise<KeyTable>((resolve) => {
    timer = setTimeout(() => resolve(usable.table), usable.fetchedAt + MAX_AGE_MS - now);
  });
  return Promise.race([reading.catch(() => usable.table), expiry]).finally(() =>
    clearTimeout(timer),
  );
}

/** After a change made in this isolate, read it back at once. */
export function invalidateConfig(): void {
  generation += 1;
  cached = null;
  refreshStarted = null;
}

export const configObject = (env: Env) => env.CONFIG.getByName(CONFIG_OBJECT);
