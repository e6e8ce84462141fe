// Merge rules, pure: which identifiers join a profile, which profiles merge, which survives.
import { type IdentifierType, KEY_TYPES, priority } from "./types";

export type KeyType = "user_id" | "loyalty_id";
export type RefusalReason = "merge_protection" | "limit" | "merge_limit";

/** What a profile holds, as far as the rules care. */
export interface Holdings {
  profileId: string;
  createdAt: number;
  keys: Partial<Record<KeyType, string>>;
  counts: Partial<Record<IdentifierType, number>>;
  merges: number;
}

export interface Offered {
  type: IdentifierType;
  hash: string;
}

export interface Candidate extends Offered {
  owner: string | null;
}

export interface Refusal extends Offered {
  reason: RefusalReason;
  owner?: string;
}

export interface Limits {
  identifierLimits: Record<IdentifierType, number>;
  maxMergesPerProfile: number;
}

export const isKey = (type: IdentifierType): type is KeyType => KEY_TYPES.includes(type);

/** Why `holdings` cannot take this identifier, or null when it can. */
export function refusal(
  holdings: Pick<Holdings, "keys" | "counts">,
  offered: Offered,
  limits: Limits,
): RefusalReason | null {
  if (isKey(offered.type)) {
    const held = holdings.keys[offered.type];
    return held && held !== offered.hash ? "merge_protection" : null;
  }
  return fits(holdings, { counts: { [offered.type]: 1 } }, limits) ? null : "limit";
}

function take(holdings: Pick<Holdings, "keys" | "counts">, offered: Offered): void {
  if (isKey(offered.type)) holdings.keys[offered.type] = offered.hash;
  holdings.counts[offered.type] = (holdings.counts[offered.type] ?? 0) + 1;
}

export interface Admission {
  accepted: Offered[];
  refused: Refusal[];
  /**
   * The event's highest-priority identifier is a key this profile must refuse: the event belongs
   * to another person, so the caller re-plans instead of recording it here.
   */
  split: boolean;
}

/**
 * Which offered identifiers a profile takes, in priority order; `heldTypes` are the types of the
 * event's identifiers that this profile already holds.
 */
export function admit(
  holdings: Pick<Holdings, "keys" | "counts">,
  heldTypes: readonly IdentifierType[],
  offered: readonly Offered[],
  limits: Limits,
): Admission {
  const next = { keys: { ...holdings.keys }, counts: { ...holdings.counts } };
  const best = Math.min(...heldTypes.map(priority), Number.POSITIVE_INFINITY);
  const result: Admission = { accepted: [], refused: [], split: false };
  for (const item of [...offered].sort((a, b) => priority(a.type) - priority(b.type))) {
    const reason = refusal(next, item, limits);
    if (reason) {
      result.refused.push({ ...item, reason });
      if (reason === "merge_protection" && priority(item.type) < best) result.split = true;
    } else {
      take(next, item);
      result.accepted.push(item);
    }
  }
  return result;
}

/** Deterministic, so two concurrent merges of the same profiles agree: oldest, then smallest id. */
export function chooseSurvivor(group: readonly Holdings[]): Holdings {
  const [first, ...rest] = group;
  if (!first) throw new RangeError("chooseSurvivor needs at least one profile");
  return rest.reduce(
    (best, p) =>
      p.createdAt < best.createdAt ||
      (p.createdAt === best.createdAt && p.profileId < best.profileId)
        ? p
        : best,
    first,
  );
}

/** Whether `profile` joined to `holdings` keeps every type other than the keys within its limit. */
function fits(
  holdings: Pick<Holdings, "counts">,
  profile: Pick<Holdings, "counts">,
  limits: Limits,
): boolean {
  return Object.entries(profile.counts).every(([type, n]) => {
    const t = type as IdentifierType;
    return isKey(t) || (holdings.counts[t] ?? 0) + n <= limits.identifierLimits[t];
  });
}

/** Whether two profiles' keys agree: merge protection. */
export function compatible(a: Pick<Holdings, "keys">, b: Pick<Holdings, "keys">): boolean {
  return KEY_TYPES.every((type) => {
    const x = a.keys[type as KeyType];
    const y = b.keys[type as KeyType];
    return !x || !y || x === y;
  });
}

export interface Plan {
  /** The profile the event is recorded on; null means a new profile. */
  home: string | null;
  /** Profiles to merge into `home`. */
  losers: string[];
  /** Unowned identifiers to link to `home`. */
  attach: Offered[];
  refused: Refusal[];
  /** The keys the merged profile will hold: a loser that holds another one by now must not merge. */
  keys: Holdings["keys"];
}

/**
 * Resolution over verified identifiers. Walks them in priority order, growing one group: an
 * owner joins the group when its keys agree with the group's (merge protection) and the merge
 * budget allows; an unowned identifier joins when the group's limits allow. The rest stay where
 * they are and are reported as refused.
 */
export function plan(
  candidates: readonly Candidate[],
  owners: ReadonlyMap<string, Holdings>,
  limits: Limits,
): Plan {
  const group: Holdings[] = [];
  const holdings: Pick<Holdings, "keys" | "counts"> = { keys: {}, counts: {} };
  const attach: Offered[] = [];
  const refused: Refusal[] = [];
  let merges = 0;
  const sorted = [...candidates].sort((a, b) => priority(a.type) - priority(b.type));
  for (const candidate of sorted) {
    const { type, hash, owner } = candidate;
    if (owner === null) {
      const reason = refusal(holdings, candidate, limits);
      if (reason) refused.push({ type, hash, reason });
      else {
        take(holdings, candidate);
        attach.push({ type, hash });
      }
      continue;
    }
    if (group.some((p) => p.profileId === owner)) continue;
    const profile = owners.get(owner);
    if (!profile) continue;
    if (!compatible(holdings, profile)) {
      refused.push({ type, hash, owner, reason: "merge_protection" });
      continue;
    }
    // A value typed for everyone (a store's placeholder email) must not funnel strangers into
    // one profile: a merge, too, keeps every type within its limit.
    if (group.length > 0 && !fits(holdings, profile, limits)) {
      refused.push({ type, hash, owner, reason: "limit" });
      continue;
    }
    if (group.length > 0 && merges + profile.merges + 1 > limits.maxMergesPerProfile) {
      refused.push({ type, hash, owner, reason: "merge_limit" });
      continue;
    }
    merges += profile.merges + (group.length > 0 ? 1 : 0);
    group.push(profile);
    Object.assign(holdings.keys, profile.keys);
    for (const [t, n] of Object.entries(profile.counts)) {
      holdings.counts[t as IdentifierType] = (holdings.counts[t as IdentifierType] ?? 0) + n;
    }
  }
  if (group.length === 0) return { home: null, losers: [], attach, refused, keys: holdings.keys };
  const survivor = chooseSurvivor(group);
  return {
    home: survivor.profileId,
    losers: group.filter((p) => p !== survivor).map((p) => p.profileId),
    attach,
    refused,
    keys: holdings.keys,
  };
}
