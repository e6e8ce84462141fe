// Resolution and merge orchestration across the identifier index and ProfileObjects (DESIGN.md).
// A known person costs one hop: identifier → profile comes from an isolate cache, which stays
// safe because merged-away profiles forward and erased ones answer missing.
import { Problem } from "../errors";
import { IsolateCache } from "../isolate-cache";
import type { JsonText } from "../json-text";
import {
  type IngestOutcome,
  type MergeInfo,
  type OfferedIdentifier,
  type Outcome,
  type ProfileStub,
  profileStub,
} from "../profile/protocol";
import type { ViewKind, ViewOf } from "../profile/views";
import type { TimelineEvent } from "../schemas";
import type { Settings } from "../settings";
import { unlinkErased } from "./erasure";
import { type Candidate, type Holdings, isKey, type Offered, plan, type Refusal } from "./rules";
import { shardOf } from "./shards";
import { type Identifier, priority } from "./types";

const MAX_ATTEMPTS = 5;
// Only a cycle, which no merge makes, would need more; a chain this long is shortened as it is
// followed, so a retry goes further.
const MAX_FORWARDS = 32;
const OWNER_CACHE_MAX = 100_000;

const owners = new IsolateCache<string>(OWNER_CACHE_MAX);

function remember(hash: string, profileId: string): void {
  owners.set(hash, profileId);
}

/** Forgets every cached owner: tests that look at cold paths use it. */
export function forgetOwners(): void {
  owners.clear();
}

/** A merge one request made: `loser` went into `into`. */
export interface Merge {
  loser: string;
  into: string;
}

/**
 * The profiles a request merged into `home`, directly or through a profile it merged there later.
 * A request that re-planned (a survivor erased, or merged elsewhere) made merges that led
 * somewhere else: those are not `home`'s to name.
 */
export function mergedInto(merges: readonly Merge[], home: string): string[] {
  const reached = new Set([home]);
  const names: string[] = [];
  for (const { loser, into } of [...merges].reverse()) {
    if (!reached.has(into)) continue;
    reached.add(loser);
    names.unshift(loser);
  }
  return names;
}

export function newProfileId(): string {
  return `pr_${crypto.randomUUID().replaceAll("-", "")}`;
}

export interface ResolverContext {
  env: Env;
  settings: Settings;
  /** Work that may finish after the response (pointer repair). */
  defer: (promise: Promise<unknown>) => void;
}

type Stub = ProfileStub;

export class Resolver {
  constructor(readonly ctx: ResolverContext) {}

  profile(profileId: string): Stub {
    return profileStub(this.ctx.env, profileId);
  }

  /** The index entry of one identifier, in its shard. */
  identity(hash: string) {
    const shard = this.ctx.env.IDENTITIES.getByName(shardOf(hash));
    return {
      owner: () => shard.owner(hash),
      claim: (profileId: string) => shard.claim(hash, profileId),
      repoint: (from: string, to: string) => shard.repoint(hash, from, to),
      release: (...profileIds: string[]) => shard.release(hash, ...profileIds),
    };
  }

  /**
   * Calls a profile, following forwards from merged-away ids to the survivor. Answers null when
   * the profile does not exist (erased, or never created). `via` are identifiers that pointed at
   * the first id: their pointers are repaired in the background.
   */
  async call<T>(
    profileId: string,
    fn: (stub: Stub, id: string) => Promise<Outcome<T>>,
    via: Identifier[] = [],
  ): Promise<{ profileId: string; value: T } | null> {
    let id = profileId;
    const forwarded: string[] = [];
    let settled = false;
    let pending = false;
    for (let hop = 0; hop < MAX_FORWARDS; hop++) {
      const outcome = await fn(this.profile(id), id);
      if (outcome.status === "ok") {
        // Not through a hand-over under way: the survivor may never take it (erased meanwhile).
        if (id !== profileId && !pending) {
          this.#repoint(via, profileId, id);
          this.#shortcut(forwarded, id);
        }
        return { profileId: id, value: outcome.value };
      }
      if (outcome.status === "missing") {
        // Forwards that end at an erased profile: one of them may be a hand-over that profile
        // never took, which is called off now (rather than on its alarm); then from the start.
        if (forwarded.length && !settled) {
          settled = true;
          for (const from of forwarded) await this.profile(from).settle();
          id = profileId;
          forwarded.length = 0;
          pending = false;
          continue;
        }
        for (const identifier of via) owners.delete(identifier.hash);
        return null;
      }
      forwarded.push(id);
      pending ||= outcome.pending === true;
      id = outcome.to;
    }
    if (!pending) this.#shortcut(forwarded, id);
    throw new Problem(409, "This profile is being merged; retry in a moment");
  }

  /** Forwards followed through to `to` (every hand-over done) point at it straight away. */
  #shortcut(forwarded: readonly string[], to: string): void {
    for (const [i, from] of forwarded.entries()) {
      const next = forwarded[i + 1];
      if (next) this.ctx.defer(this.profile(from).shortcut(next, to));
    }
  }

  /**
   * A profile's view of `kind` as JSON text, following forwards; null when it does not exist.
   * The object builds exactly the kind asked for; RPC typing loses that link, hence the cast.
   */
  view<K extends ViewKind>(profileId: string, kind: K, via: Identifier[] = []) {
    return this.call(
      profileId,
      (stub) => stub.view(kind) as Promise<Outcome<JsonText<ViewOf<K>>>>,
      via,
    );
  }

  /** Owners of each identifier, from the isolate cache where known. */
  async owners(identifiers: Identifier[], fresh = false): Promise<(string | null)[]> {
    return Promise.all(
      identifiers.map(async (identifier) => {
        const cached = fresh ? undefined : owners.get(identifier.hash);
        if (cached) return cached;
        const owner = await this.identity(identifier.hash).owner();
        if (owner) remember(identifier.hash, owner);
        return owner;
      }),
    );
  }

  /**
   * The profile holding the highest-priority identifier, in the given view; null if none. As an
   * event with these identifiers would: a key (`user_id`, `loyalty_id`) nobody holds is the new
   * person's, so a profile found by a lower identifier that holds another value of it is skipped.
   */
  async recognize<K extends ViewKind>(
    identifiers: Identifier[],
    kind: K,
  ): Promise<{ profileId: string; view: JsonText<ViewOf<K>> } | null> {
    const sorted = [...identifiers].sort((a, b) => priority(a.type) - priority(b.type));
    const found = await this.owners(sorted);
    const unheld: Holdings["keys"] = {};
    for (const [i, identifier] of sorted.entries()) {
      let owner = found[i];
      let live = false;
      for (const fresh of [false, true]) {
        if (!owner) break;
        // The plain view when no unheld key asks for the check (every lookup by one identifier).
        const result = Object.keys(unheld).length
          ? await this.call(
              owner,
              (stub) => stub.lookup(kind, unheld) as Promise<Outcome<JsonText<ViewOf<K>> | null>>,
              [identifier],
            )
          : await this.view(owner, kind, [identifier]);
        if (result?.value) return { profileId: result.profileId, view: result.value };
        live = result !== null;
        if (live) break;
        // The owner this isolate knew is gone (erased elsewhere): the index may name a newer
        // one, who outranks the next identifier's owner.
        if (!fresh) [owner] = await this.owners([identifier], true);
      }
      if (!live && isKey(identifier.type)) unheld[identifier.type] = identifier.hash;
    }
    return null;
  }

  /**
   * Records an event on the profile its identifiers resolve to, creating, linking and merging as
   * the rules allow. Verified identifiers link and merge; claimed ones are only kept.
   */
  async ingest<K extends ViewKind>(input: {
    event: TimelineEvent;
    identifiers: Identifier[];
    claimed: Identifier[];
    source: string;
    view: K;
  }): Promise<{
    status: "recorded" | "duplicate";
    profileId: string;
    merged: string[];
    view: JsonText<ViewOf<K>>;
    droppedTraits: string[];
    /** Identifiers the plan left with other profiles, and why (empty when it did not plan). */
    refused: Refusal[];
  }> {
    const { identifiers, event } = input;
    const merges: Merge[] = [];
    let recorded = false;
    let planned = false;
    /** Where an earlier attempt recorded the event before it lost a link to a concurrent request. */
    let recordedOn: { profileId: string; view: JsonText<unknown>; droppedTraits: string[] } | null =
      null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = await this.owners(identifiers, attempt > 0);
      const distinct = [...new Set(found.filter((o): o is string => o !== null))];
      let home: string | null;
      let group: Set<string>;
      let offered: Offered[];
      let refused: Refusal[] = [];
      if (distinct.length <= 1 && !planned) {
        home = distinct[0] ?? null;
        group = new Set(distinct);
        offered = identifiers.filter((_, i) => found[i] === null);
      } else {
        const candidates = await this.#candidates(identifiers, found);
        const holdings = await this.#holdings(candidates);
        const decided = plan(candidates, holdings, this.ctx.settings);
        let moved = false;
        for (const loser of decided.losers) {
          if (!decided.home) break;
          const via = candidates.filter((c) => c.owner === loser);
          moved = !(await this.#merge(loser, decided.home, via, event, decided.keys));
          if (moved) break;
          merges.push({ loser, into: decided.home });
        }
        // A loser merged elsewhere meanwhile: its identifiers are not ours to take; plan again.
        if (moved) {
          planned = true;
          continue;
        }
        home = decided.home;
        group = new Set([...(home ? [home] : []), ...decided.losers]);
        // Recorded already, on a profile this plan does not join: it stays there, and only there.
        if (recordedOn && !group.has(recordedOn.profileId)) {
          const { profileId, view, droppedTraits } = recordedOn;
          const merged = mergedInto(merges, profileId);
          const answer = view as JsonText<ViewOf<K>>;
          const refused = decided.refused;
          return { status: "recorded", profileId, merged, view: answer, droppedTraits, refused };
        }
        offered = decided.attach;
        refused = decided.refused;
        for (const c of candidates)
          found[identifiers.findIndex((i) => i.hash === c.hash)] = c.owner;
      }
      const values = new Map(identifiers.map((i) => [i.hash, i]));
      const full = (o: Offered): OfferedIdentifier => ({
        ...o,
        value: values.get(o.hash)?.value ?? "",
      });
      let held = identifiers.filter((_, i) => {
        const owner = found[i];
        return owner !== null && owner !== undefined && group.has(owner);
      });
      if (home === null) {
        // A new person: claim first, so a lost race leaves no orphaned event behind.
        home = newProfileId();
        const lost = await this.#claim(home, offered);
        if (lost.length) {
          planned = true;
          continue;
        }
        held = offered.map(full);
        offered = [];
      }
      const target: string = home;
      const result = await this.call<IngestOutcome>(target, (stub, id) =>
        stub.ingest({
          profileId: id,
          event,
          held: held.map(full),
          offered: offered.map(full),
          claimed: input.claimed,
          refused,
          source: input.source,
          view: input.view,
        }),
      );
      if (!result) {
        planned = true;
        continue;
      }
      const outcome = result.value;
      if (outcome.kind === "split") {
        planned = true;
        continue;
      }
      recorded ||= outcome.kind === "recorded";
      const lost = await this.#claim(result.profileId, outcome.accepted);
      if (lost.length) {
        await this.profile(result.profileId).unlink(lost.map((l) => l.hash));
        if (outcome.kind === "recorded")
          recordedOn = {
            profileId: result.profileId,
            view: outcome.view,
            droppedTraits: outcome.droppedTraits,
          };
        planned = true;
        continue;
      }
      for (const identifier of [...held, ...outcome.accepted])
        remember(identifier.hash, result.profileId);
      return {
        status: recorded ? "recorded" : "duplicate",
        profileId: result.profileId,
        merged: mergedInto(merges, result.profileId),
        // The object answers the kind asked for (see `view`).
        view: outcome.view as JsonText<ViewOf<K>>,
        droppedTraits: outcome.droppedTraits,
        refused,
      };
    }
    throw new Problem(409, "These identifiers are changing concurrently; retry the event");
  }

  /**
   * Erasure: the profile's storage, every identifier link and the ids merged into it. Answers
   * false when there was nothing to erase. Links left behind by a crash are dropped lazily:
   * resolution releases any identifier whose owner answers missing.
   */
  async erase(profileId: string): Promise<boolean> {
    const result = await this.call(profileId, (stub) => stub.erase());
    if (!result) return false;
    const erased = result.value;
    for (const hash of erased.identifierHashes) owners.delete(hash);
    await unlinkErased(this.ctx.env, erased, [result.profileId, ...erased.mergedIds]);
    return true;
  }

  /** Candidates with owners resolved to live profiles (forwards followed, erased ones dropped). */
  async #candidates(identifiers: Identifier[], found: (string | null)[]): Promise<Candidate[]> {
    return Promise.all(
      identifiers.map(async (identifier, i) => {
        const owner = found[i] ?? null;
        if (!owner) return { type: identifier.type, hash: identifier.hash, owner: null };
        const live = await this.call(owner, (stub, id) => stub.holdings(id), [identifier]);
        if (!live) {
          // The owner was erased but the pointer survived: let the identifier go.
          await this.identity(identifier.hash).release(owner);
          return { type: identifier.type, hash: identifier.hash, owner: null };
        }
        return { type: identifier.type, hash: identifier.hash, owner: live.profileId };
      }),
    );
  }

  async #holdings(candidates: Candidate[]): Promise<Map<string, Holdings>> {
    const ids = [...new Set(candidates.flatMap((c) => (c.owner ? [c.owner] : [])))];
    const entries = await Promise.all(
      ids.map(async (id) => {
        const result = await this.call(id, (stub, pid) => stub.holdings(pid));
        return result ? ([id, result.value] as const) : null;
      }),
    );
    return new Map(entries.filter((e) => e !== null));
  }

  /** Links identifiers to a profile; answers those another profile holds already. */
  async #claim(profileId: string, identifiers: Offered[]): Promise<Offered[]> {
    const winners = await Promise.all(
      identifiers.map((i) => this.identity(i.hash).claim(profileId)),
    );
    return identifiers.filter((_, i) => winners[i] !== profileId);
  }

  /**
   * The merge saga: the loser marks itself forwarded and hands over its state; the survivor
   * imports it idempotently; the loser then drops it. A crash between steps is finished by the
   * loser's alarm. Answers false when the profiles moved meanwhile (the caller re-plans).
   */
  async #merge(
    loser: string,
    survivor: string,
    via: Candidate[],
    event: TimelineEvent,
    keys: Holdings["keys"],
  ): Promise<boolean> {
    const info: MergeInfo = {
      via: [...new Set(via.map((c) => c.type))],
      eventId: event.event_id,
      channel: event.channel,
    };
    // The survivor first: a key that reaches it while the loser hands over must not join two people.
    const reserved = await this.profile(survivor).reserveMerge(survivor, loser, keys);
    if (reserved.status !== "ok") return false;
    const snapshot = await this.profile(loser).beginMerge(loser, survivor, info, keys);
    if (snapshot.status !== "ok") {
      this.ctx.defer(this.profile(survivor).releaseMerge(loser));
      return false;
    }
    const imported = await this.profile(survivor).importMerge(survivor, snapshot.value, info);
    // Erased before it took the loser: the loser was never part of that person and is itself again.
    if (imported.status === "missing") await this.profile(loser).cancelMerge(survivor);
    if (imported.status !== "ok") return false;
    await this.profile(loser).completeMerge();
    // Every link of the loser, not only those that joined the two: otherwise each later merge of
    // the survivor adds a hop to the loser's other identifiers, until they are past MAX_FORWARDS.
    const linked = snapshot.value.identifiers.filter((i) => i.verified);
    this.#repoint([...via, ...linked], loser, survivor);
    return true;
  }

  /** Path compression: identifiers that pointed at a merged-away id point at its survivor. */
  #repoint(identifiers: readonly { hash: string }[], from: string, to: string): void {
    for (const identifier of identifiers) {
      remember(identifier.hash, to);
      this.ctx.defer(this.identity(identifier.hash).repoint(from, to));
    }
  }
}
