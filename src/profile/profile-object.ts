// ProfileObject: one per person. Holds identifiers, events, traits, consent and merges in SQLite,
// with a copy in memory so reads cost no query. Thin over the pure rules, computed and views modules.
import { DurableObject } from "cloudflare:workers";
import { unlinkErased } from "../identity/erasure";
import {
  admit,
  compatible,
  type Holdings,
  type KeyType,
  type Offered,
  type Refusal,
} from "../identity/rules";
import { type IdentifierType, KEY_TYPES } from "../identity/types";
import type { JsonText } from "../json-text";
import type { Conflict, Export, MergeRecord, TimelineEvent, TraitValue } from "../schemas";
import { type Settings, settingsFor } from "../settings";
import { hasSchema, migrate, type Sql, sqlTag } from "../sql";
import {
  type Aggregate,
  combine,
  countedAt,
  emptyAggregate,
  foldEvent,
  foldOf,
  restoreAggregate,
} from "./computed";
import { type Cursor, digest, type EventRow, encodeCursor, newestFirst, pageOf } from "./cursor";
import type {
  ConsentChange,
  Erased,
  IngestInput,
  IngestOutcome,
  MergeInfo,
  Outcome,
  PrunedEvent,
  Snapshot,
  TimelinePage,
} from "./protocol";
import {
  MAX_CONSENT_CHANGES,
  PERSONAL_TABLES,
  profileMigrations,
  profileSchema,
  trimConsentHistory,
} from "./schema";
import {
  fullView,
  type HeldIdentifier,
  type ProfileState,
  type ViewKind,
  type ViewOf,
  viewText,
} from "./views";

interface Loaded extends ProfileState {
  identifierHashes: Map<string, HeldIdentifier>;
  traitTimes: Map<string, number>;
  consentTimes: Map<string, number>;
  archived: Aggregate;
}

const RECENT = 5;
const MAX_CONFLICTS = 100;
const HANDOVER_RETRY_MS = 1_000;
/** Events read at a time when the window's size, not its count, is over. */
const PRUNE_BATCH = 16;
/** Longer than a hand-over's first retries: a planner that died after reserving frees it then. */
const RESERVATION_MS = 30_000;
/** Survivors merged away in turn that one hand-over follows before it waits for the alarm. */
const MAX_SETTLE_HOPS = 4;

const ok = <T>(value: T): Outcome<T> => ({ status: "ok", value });
const MISSING = { status: "missing" } as const;

export class ProfileObject extends DurableObject<Env> {
  readonly #sql: Sql;
  readonly #settings: Settings;
  #state: Loaded | null = null;
  #profileId: string | null = null;
  #mergedInto: string | null = null;
  #handoverPending = false;
  #erasedAt: string | null = null;
  #eventCount = 0;
  /** Characters of JSON the kept events hold; persisted in meta. */
  #eventSize = 0;
  /** The last sequence number given to an event; persisted in meta. */
  #seq = 0;
  #knownIdSet: Set<string> | null = null;
  /** Ids two kept events share (two people's, merged): known while either is held. */
  readonly #heldTwice = new Set<string>();
  /** Views as sent, built once per change: most calls read a profile that has not changed. */
  readonly #views = new Map<ViewKind, string>();
  /**
   * Keys of losers being merged into this profile, by loser id, until their import: held already
   * as far as the rules go, so no conflicting key gets in between the plan and the import.
   * In memory: the object stays up for the few milliseconds a merge takes.
   */
  readonly #reserved = new Map<string, { keys: Holdings["keys"]; until: number }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = sqlTag(ctx.storage.sql);
    this.#settings = settingsFor(env);
    ctx.blockConcurrencyWhile(async () => {
      // An id nothing was written to stays without storage: looking up a made-up id leaves none.
      if (!hasSchema(ctx.storage)) return;
      this.#migrate();
      this.#load();
    });
  }

  /** What merge rules need to know about this profile. */
  holdings(profileId: string): Outcome<Holdings> {
    const moved = this.#moved();
    if (moved) return moved;
    // Claimed a moment ago by a request still on its way: created now, so the age the rules rank
    // it by is the same for every planner from the first that looks. Counted as youngest until
    // created, two planners could pick opposite survivors and merge two people into each other.
    if (!this.#state) this.#create(profileId);
    return ok(this.#holdings(profileId));
  }

  view<K extends ViewKind>(kind: K): Outcome<JsonText<ViewOf<K>>> {
    const moved = this.#moved();
    if (moved) return moved;
    return this.#state ? ok(this.#view(kind, this.#state)) : MISSING;
  }

  /**
   * The view for a lookup that also names keys (`user_id`, `loyalty_id`) no profile holds: null
   * when this profile holds other values of them. It is then another person (merge protection),
   * and an event with the same identifiers would not be recorded here.
   */
  lookup<K extends ViewKind>(kind: K, keys: Holdings["keys"]): Outcome<JsonText<ViewOf<K>> | null> {
    const found = this.view(kind);
    if (found.status !== "ok") return found;
    return compatible(this.#holdings(this.#profileId ?? ""), { keys }) ? found : ok(null);
  }

  /**
   * An event repeated within a batch, answered as the duplicate it is here: the view, and which of
   * its trait keys this profile does not hold.
   */
  repeat<K extends ViewKind>(
    kind: K,
    traitKeys: string[],
  ): Outcome<{ view: JsonText<ViewOf<K>>; droppedTraits: string[] }> {
    const moved = this.#moved();
    if (moved) return moved;
    const state = this.#state;
    if (!state) return MISSING;
    return ok({ view: this.#view(kind, state), droppedTraits: this.#notHeld(state, traitKeys) });
  }

  async timeline(limit: number, before: Cursor | null): Promise<Outcome<TimelinePage>> {
    const moved = await this.#settledMove();
    if (moved) return moved;
    if (!this.#state) return MISSING;
    const tied = before
      ? this.#sql<EventRow>`
          SELECT ts, event_id, body FROM events WHERE ts = ${before.ts} AND event_id = ${before.eventId}
          ORDER BY body DESC`
      : [];
    // No cursor: from after every event there can be.
    const from = before ?? { ts: Number.MAX_SAFE_INTEGER, eventId: "" };
    const older = this.#sql<EventRow>`
      SELECT ts, event_id, body FROM events WHERE (ts, event_id) < (${from.ts}, ${from.eventId})
      ORDER BY ts DESC, event_id DESC, body DESC LIMIT ${limit + 1}`;
    const { page, next } = pageOf(tied, older, before, limit);
    return ok({
      events: page.map((row) => JSON.parse(row.body) as TimelineEvent),
      next: next && encodeCursor(next),
    });
  }

  async ingest(input: IngestInput): Promise<Outcome<IngestOutcome>> {
    // A hand-over under way is finished first: its survivor may not hold this profile yet, so a
    // re-sent event would be counted there twice once it does, and a write lost with it if it is
    // erased before taking this profile.
    if (this.#handoverPending) await this.#settle();
    const moved = this.#moved();
    if (moved) return moved;
    const state = this.#state ?? this.#create(input.profileId);
    const eventId = input.event.event_id;
    // Offered identifiers this profile holds verified already are accepted again: the index does
    // not point at them, so a link a crash kept the resolver from making is made now.
    const relinked = input.offered.filter((o) => state.identifierHashes.get(o.hash)?.verified);
    if (this.#knownIds().has(eventId)) {
      const view = this.#view(input.view, state);
      // A retry after a timeout never saw the first answer: it learns again which keys the
      // profile has no room for.
      const droppedTraits = this.#notHeld(state, Object.keys(input.event.traits ?? {}));
      return ok({ kind: "duplicate", view, accepted: relinked, droppedTraits });
    }

    const fresh = input.offered.filter((o) => !state.identifierHashes.get(o.hash)?.verified);
    const admission = admit(
      this.#holdings(input.profileId),
      input.held.map((h) => h.type),
      fresh,
      this.#settings,
    );
    if (admission.split) return ok({ kind: "split", holdings: this.#holdings(input.profileId) });

    const acceptedHashes = new Set(admission.accepted.map((a) => a.hash));
    const linked = [
      ...input.held.filter((h) => !state.identifierHashes.get(h.hash)?.verified),
      ...fresh.filter((o) => acceptedHashes.has(o.hash)),
    ];
    const now = Date.now();
    const dropped = this.#traitsPastLimit(state, input.event);
    this.#transaction(() => {
      for (const id of linked) this.#putIdentifier(id, true, now);
      // Claims count toward the type's limit too: a browser cannot grow its profile without end.
      for (const id of input.claimed) {
        if (state.identifierHashes.has(id.hash)) continue;
        const held = state.identifiers.filter((i) => i.type === id.type).length;
        if (held < this.#settings.identifierLimits[id.type]) this.#putIdentifier(id, false, now);
      }
      this.#insertEvent(input.event);
      const at = countedAt(input.event);
      this.#applyTraits(input.event, at, dropped);
      // Just merged, over the cap: the event's own keys compete by time, and lost ones are named.
      for (const key of this.#trimTraits(this.#settings.maxTraitsPerProfile)) {
        if (Object.hasOwn(input.event.traits ?? {}, key)) dropped.add(key);
      }
      if (input.event.type === "consent") this.#applyConsent(input.event, input.source, at);
      this.#recordConflicts([...input.refused, ...admission.refused], eventId, now);
      foldEvent(state.aggregate, foldOf(input.event));
      this.#saveCounters(this.#prune());
    });
    return ok({
      kind: "recorded",
      view: this.#view(input.view, state),
      accepted: [...admission.accepted, ...relinked],
      droppedTraits: [...dropped],
    });
  }

  /** Records consent choices made outside an event (a banner, a till, an admin). */
  async setConsent(
    purposes: Record<string, "granted" | "denied">,
    channel: string,
    source: string,
  ): Promise<Outcome<Record<string, "granted" | "denied">>> {
    // As an ingest does: a write finishes a hand-over under way first.
    if (this.#handoverPending) await this.#settle();
    const moved = this.#moved();
    if (moved) return moved;
    const state = this.#state;
    if (!state) return MISSING;
    const at = Date.now();
    this.#transaction(() => {
      for (const [purpose, status] of Object.entries(purposes)) {
        this.#addConsent({ purpose, status, channel, source, at });
      }
    });
    return ok({ ...state.consent });
  }

  /** Everything held about the person, for a data-access request. */
  async exportAll(): Promise<Outcome<Export>> {
    const moved = await this.#settledMove();
    if (moved) return moved;
    const state = this.#state;
    if (!state) return MISSING;
    const full = fullView(state);
    return ok({
      profile_id: state.profileId,
      identifiers: full.identifiers,
      claimed_identifiers: full.claimed_identifiers,
      traits: full.traits,
      computed: full.computed,
      events: this.#sql<{
        body: string;
      }>`SELECT body FROM events ORDER BY ts DESC, event_id DESC, body DESC`.map(
        (r) => JSON.parse(r.body) as TimelineEvent,
      ),
      earlier_event_ids: this.#prunedEvents().map((e) => e.eventId),
      consent: full.consent,
      consent_history: this.#consentHistory().map((c) => ({
        ...c,
        at: new Date(c.at).toISOString(),
      })),
      messages: [],
      merges: full.merges,
      conflicts: full.conflicts,
      created_at: full.created_at,
    });
  }

  /**
   * Erasure: deletes every row and keeps only a tombstone (no personal data), so this id answers
   * missing from now on. Answers what pointed here, for the caller to unlink.
   */
  async erase(): Promise<Outcome<Erased>> {
    const moved = await this.#settledMove();
    if (moved) return moved;
    // Never created: nothing to erase, and no tombstone for an id nobody was given.
    if (!this.#state) return MISSING;
    return ok(await this.#forget());
  }

  /** Erases a merged-away id too: it must answer missing, not forward to an erased survivor. */
  async eraseForward(): Promise<void> {
    if (!this.#erased()) await this.#tombstone();
  }

  /** Drops links that another profile won in a race; the caller re-plans. */
  unlink(hashes: string[]): void {
    const state = this.#state;
    if (!state) return;
    this.#transaction(() => {
      for (const hash of hashes) {
        this.#sql`DELETE FROM identifiers WHERE hash = ${hash}`;
        state.identifierHashes.delete(hash);
      }
      state.identifiers = [...state.identifierHashes.values()];
    });
  }

  /**
   * Step one of a merge, on the loser: from now on it forwards to the survivor. It hands over
   * its state in the answer, and its alarm repeats the hand-over until the survivor has it.
   */
  async beginMerge(
    profileId: string,
    survivor: string,
    info: MergeInfo,
    keys: Holdings["keys"],
  ): Promise<Outcome<Snapshot> | { status: "changed" }> {
    if (this.#erased()) return MISSING;
    if (this.#mergedInto && !(this.#mergedInto === survivor && this.#handoverPending)) {
      return { status: "forward", to: this.#mergedInto };
    }
    const first = !this.#mergedInto;
    if (first) {
      // A key that reached this profile after the merge was planned: the planner must look again.
      if (!compatible(this.#holdings(profileId), { keys })) return { status: "changed" };
      this.#migrate();
      this.ctx.storage.transactionSync(() => {
        this.#setMeta("profile_id", profileId);
        this.#setMeta("merged_into", survivor);
        this.#setMeta("handover", JSON.stringify(info));
      });
      this.#profileId = profileId;
      this.#mergedInto = survivor;
      this.#handoverPending = true;
    }
    // Taken before the alarm is set: a call let in meanwhile may finish the hand-over itself.
    const snapshot = this.#snapshot(profileId);
    if (first) await this.ctx.storage.setAlarm(Date.now() + HANDOVER_RETRY_MS);
    return ok(snapshot);
  }

  /**
   * Step zero, on the survivor: from now on it refuses any key that conflicts with the merged
   * profile's. Answers "changed" when it holds one already: the planner must look again.
   */
  reserveMerge(
    profileId: string,
    loser: string,
    keys: Holdings["keys"],
  ): Outcome<null> | { status: "changed" } {
    const moved = this.#moved();
    if (moved) return moved;
    if (!compatible(this.#holdings(profileId), { keys })) return { status: "changed" };
    this.#reserved.set(loser, { keys, until: Date.now() + RESERVATION_MS });
    return ok(null);
  }

  /**
   * This merged-away profile forwards to `next`, which was merged on into `to`: it forwards to
   * `to` directly from now on, so a chain of merges costs one hop, not one per merge.
   */
  shortcut(next: string, to: string): void {
    if (this.#erased() || this.#mergedInto !== next || this.#handoverPending) return;
    this.#setMeta("merged_into", to);
    this.#mergedInto = to;
  }

  /** A merge that will not happen after all (its loser moved): its keys are free again. */
  releaseMerge(loser: string): void {
    this.#reserved.delete(loser);
  }

  /** Step two, on the survivor: imports a loser's state. Idempotent per loser. */
  importMerge(
    profileId: string,
    snapshot: Snapshot,
    info: MergeInfo,
  ): Outcome<{ imported: boolean }> | { status: "erased" } {
    if (this.#erased() && this.#erasedMerges().includes(snapshot.profileId)) {
      return { status: "erased" };
    }
    // Taken already (a repeated hand-over): so, even while this profile hands itself over in turn.
    if (this.#state?.merges.some((m) => m.profile_id === snapshot.profileId))
      return ok({ imported: false });
    const moved = this.#moved();
    if (moved) return moved;
    this.#reserved.delete(snapshot.profileId);
    const state = this.#state ?? this.#create(profileId);
    const now = Date.now();
    this.#transaction(() => {
      for (const id of snapshot.identifiers) {
        const held = state.identifierHashes.get(id.hash);
        if (!held || (id.verified && !held.verified)) this.#putIdentifier(id, id.verified, now);
      }
      for (const event of snapshot.events) this.#importEvent(event);
      for (const pruned of snapshot.prunedEvents) this.#rememberPruned(pruned);
      for (const trait of snapshot.traits) this.#setTrait(trait.key, trait.value, trait.updatedAt);
      for (const change of snapshot.consentHistory) this.#keepConsent(change);
      if (snapshot.consentHistory.length) this.ctx.storage.sql.exec(trimConsentHistory);
      const record: MergeRecord = {
        profile_id: snapshot.profileId,
        via: info.via,
        event_id: info.eventId,
        channel: info.channel,
        at: new Date(now).toISOString(),
      };
      for (const merge of [record, ...snapshot.merges]) this.#insertMerge(merge);
      for (const conflict of snapshot.conflicts) this.#insertConflict(conflict);
      // Two full profiles hold more keys than one may. The event that joins them comes next and
      // trims to the limit after its own traits count (see ingest); until then, twice the limit.
      this.#trimTraits(2 * this.#settings.maxTraitsPerProfile);
      state.archived = combine(state.archived, snapshot.archived);
      this.#prune();
      state.aggregate = this.#recompute(state.archived);
      this.#saveCounters(true);
    });
    this.#load();
    return ok({ imported: true });
  }

  /** Step three, on the loser: the survivor has everything, so the loser keeps only its forward. */
  async completeMerge(): Promise<void> {
    if (!this.#mergedInto || !this.#handoverPending) return;
    this.ctx.storage.transactionSync(() => {
      for (const table of PERSONAL_TABLES) this.ctx.storage.sql.exec(`DELETE FROM ${table}`);
      this.#sql`DELETE FROM meta WHERE key NOT IN ('profile_id', 'merged_into')`;
    });
    this.#handoverPending = false;
    this.#state = null;
    this.#knownIdSet = null;
    await this.ctx.storage.deleteAlarm();
  }

  override async alarm(): Promise<void> {
    await this.#settle();
  }

  /** Finishes a pending hand-over now (see #settle): for a caller that found its survivor gone. */
  async settle(): Promise<void> {
    await this.#settle();
  }

  /**
   * Finishes a pending hand-over now: on the alarm, and before a call that must see the person
   * whole (an export, a timeline, an erasure by this id), which would otherwise reach a survivor
   * that has not imported this profile yet.
   */
  async #settle(): Promise<void> {
    for (let hop = 0; hop < MAX_SETTLE_HOPS; hop++) {
      const survivor = this.#mergedInto;
      const profileId = this.#profileId;
      if (!survivor || !profileId || !this.#handoverPending) return;
      const info = JSON.parse(this.#getMeta("handover") ?? "{}") as MergeInfo;
      let result: Awaited<ReturnType<ProfileObject["importMerge"]>>;
      try {
        result = await this.env.PROFILES.getByName(survivor).importMerge(
          survivor,
          this.#snapshot(profileId),
          info,
        );
      } catch (error) {
        // Retried by our own schedule; the survivor may be briefly unreachable.
        console.warn(
          JSON.stringify({ msg: "merge hand-over failed", cause: (error as Error).name }),
        );
        await this.ctx.storage.setAlarm(Date.now() + HANDOVER_RETRY_MS * 10);
        return;
      }
      // Settled meanwhile by a call running beside this one (the resolver, another settle).
      if (this.#mergedInto !== survivor || !this.#handoverPending) return;
      if (result.status === "forward") {
        // The survivor was itself merged away meanwhile: hand over to its survivor instead.
        this.#setMeta("merged_into", result.to);
        this.#mergedInto = result.to;
      } else if (result.status === "missing") {
        await this.cancelMerge(survivor);
      } else if (result.status === "erased") {
        await this.#eraseStranded(profileId, survivor);
      } else {
        await this.completeMerge();
      }
    }
    if (this.#handoverPending) await this.ctx.storage.setAlarm(Date.now() + HANDOVER_RETRY_MS);
  }

  /**
   * A hand-over to a survivor that was erased before it took it: this profile was never part of
   * the erased person, so it is itself again, with everything it held.
   */
  async cancelMerge(survivor: string): Promise<void> {
    if (this.#mergedInto !== survivor || !this.#handoverPending) return;
    this.#sql`DELETE FROM meta WHERE key IN ('merged_into', 'handover')`;
    this.#mergedInto = null;
    this.#handoverPending = false;
    this.#views.clear();
    await this.ctx.storage.deleteAlarm();
  }

  /**
   * The survivor took this hand-over and was then erased, and its erasure did not reach this
   * profile (it stopped half-way): the person asked to be forgotten, so this profile goes too,
   * with its links in the index and the ids merged into it.
   */
  async #eraseStranded(profileId: string, survivor: string): Promise<void> {
    const erased = await this.#forget();
    await unlinkErased(this.env, erased, [profileId, survivor, ...erased.mergedIds]);
  }

  /** Deletes every row but a tombstone; answers what pointed here, for the index to let go. */
  async #forget(): Promise<Erased> {
    const erased = {
      identifierHashes: this.#sql<{ hash: string }>`SELECT hash FROM identifiers`.map(
        (r) => r.hash,
      ),
      mergedIds: this.#state?.merges.map((m) => m.profile_id) ?? [],
    };
    await this.#tombstone(erased.mergedIds);
    return erased;
  }

  /**
   * Keeps only the time of erasure and the ids merged in (random, no personal data): a loser
   * whose hand-over this profile took learns from them that it goes too (see #settle).
   */
  async #tombstone(mergedIds: string[] = []): Promise<void> {
    // Erased from this moment for every call, before storage follows: a merge's first step let in
    // while storage was being deleted handed over the person being erased (about 1 in 300 tries).
    this.#erasedAt = String(Date.now());
    await this.ctx.blockConcurrencyWhile(async () => {
      await this.ctx.storage.deleteAll();
      await this.ctx.storage.deleteAlarm();
      this.#migrate();
      this.ctx.storage.transactionSync(() => {
        this.#setMeta("erased", String(Date.now()));
        this.#setMeta("erased_merges", JSON.stringify(mergedIds));
      });
      this.#load();
    });
  }

  /**
   * A write and the in-memory copy it updates: if SQLite refuses part of it, the transaction rolls
   * back and the copy is read again, so memory never holds what storage does not.
   */
  #transaction(write: () => void): void {
    this.#views.clear();
    try {
      this.ctx.storage.transactionSync(write);
    } catch (error) {
      this.#load();
      throw error;
    }
  }

  /** A view's text, kept until the state changes, which it does only in #transaction and #load. */
  #view<K extends ViewKind>(kind: K, state: Loaded): JsonText<ViewOf<K>> {
    let text = this.#views.get(kind) as JsonText<ViewOf<K>> | undefined;
    if (text === undefined) {
      text = viewText(kind, state);
      this.#views.set(kind, text);
    }
    return text;
  }

  /** Every event id this profile answers as a duplicate: read on the first write, not at wake. */
  #knownIds(): Set<string> {
    if (!this.#knownIdSet) {
      const known = new Set<string>();
      this.#heldTwice.clear();
      for (const { event_id } of this.#sql<{ event_id: string }>`
        SELECT event_id FROM events UNION ALL SELECT event_id FROM event_ids`) {
        if (known.has(event_id)) this.#heldTwice.add(event_id);
        known.add(event_id);
      }
      this.#knownIdSet = known;
    }
    return this.#knownIdSet;
  }

  /** Whether an event with this id is kept, or its id remembered. Scans: for rare ids only. */
  #holds(eventId: string): boolean {
    return (
      this.#sql`SELECT 1 FROM events WHERE event_id = ${eventId}
        UNION ALL SELECT 1 FROM event_ids WHERE event_id = ${eventId} LIMIT 1`.length > 0
    );
  }

  /** Of an event's trait keys, those the profile does not hold (a duplicate's `dropped_traits`). */
  #notHeld(state: Loaded, keys: string[]): string[] {
    return keys.filter((key) => !Object.hasOwn(state.traits, key));
  }

  /** Events that left the window, oldest first: their ids are still answered as duplicates. */
  #prunedEvents(): PrunedEvent[] {
    return this.#sql<{ event_id: string; digest: string | null }>`
      SELECT event_id, digest FROM event_ids ORDER BY n`.map((r) => ({
      eventId: r.event_id,
      digest: r.digest,
    }));
  }

  #erasedMerges(): string[] {
    return JSON.parse(this.#getMeta("erased_merges") ?? "[]") as string[];
  }

  #moved(): Outcome<never> | null {
    if (this.#erased()) return MISSING;
    if (!this.#mergedInto) return null;
    const to = this.#mergedInto;
    return this.#handoverPending
      ? { status: "forward", to, pending: true }
      : { status: "forward", to };
  }

  /**
   * Where a call that must see the person whole goes (an export, a timeline, an erasure by this
   * id): a pending hand-over is finished first. Still handing over (its survivor unreachable, or
   * merging on in turn), no survivor holds this profile yet: the person is this profile.
   */
  async #settledMove(): Promise<Outcome<never> | null> {
    await this.#settle();
    return this.#handoverPending ? null : this.#moved();
  }

  #erased(): boolean {
    return this.#erasedAt !== null;
  }

  #getMeta(key: string): string | undefined {
    return this.#sql<{ value: string }>`SELECT value FROM meta WHERE key = ${key}`[0]?.value;
  }

  #setMeta(key: string, value: string): void {
    this.#sql`INSERT INTO meta (key, value) VALUES (${key}, ${value})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
  }

  #migrate(): void {
    migrate(this.ctx.storage, profileMigrations, profileSchema);
  }

  /** A new person: only called while this object holds no personal data (see ingest). */
  #create(profileId: string): Loaded {
    this.#migrate();
    const now = Date.now();
    this.#transaction(() => {
      this.#setMeta("profile_id", profileId);
      this.#setMeta("created_at", String(now));
    });
    this.#profileId = profileId;
    // Built in memory: reading back nine empty tables would cost more than the writes above.
    this.#state = {
      profileId,
      createdAt: now,
      identifiers: [],
      identifierHashes: new Map(),
      traits: {},
      traitTimes: new Map(),
      aggregate: emptyAggregate(),
      archived: emptyAggregate(),
      currency: this.#settings.currency,
      consent: {},
      consentTimes: new Map(),
      conflicts: [],
      merges: [],
      recentEvents: [],
    };
    return this.#state;
  }

  #holdings(profileId: string): Holdings {
    const state = this.#state;
    const keys: Partial<Record<KeyType, string>> = {};
    const counts: Partial<Record<IdentifierType, number>> = {};
    for (const [hash, id] of state?.identifierHashes ?? []) {
      if (!id.verified) continue;
      if (KEY_TYPES.includes(id.type)) keys[id.type as KeyType] = hash;
      counts[id.type] = (counts[id.type] ?? 0) + 1;
    }
    const now = Date.now();
    for (const [loser, reserved] of this.#reserved) {
      if (reserved.until <= now) this.#reserved.delete(loser);
      else for (const type of KEY_TYPES as KeyType[]) keys[type] ??= reserved.keys[type];
    }
    return {
      profileId: state?.profileId ?? profileId,
      // Not created yet (claimed a moment ago by a request still on its way): the youngest.
      createdAt: state?.createdAt ?? Number.MAX_SAFE_INTEGER,
      keys,
      counts,
      merges: state?.merges.length ?? 0,
    };
  }

  #putIdentifier(id: Offered & { value: string }, verified: boolean, at: number): void {
    this.#sql`INSERT INTO identifiers (type, hash, value, verified, added_at)
      VALUES (${id.type}, ${id.hash}, ${id.value}, ${verified ? 1 : 0}, ${at})
      ON CONFLICT (type, hash) DO UPDATE SET verified = max(verified, excluded.verified)`;
    const state = this.#state;
    if (!state) return;
    const held = state.identifierHashes.get(id.hash);
    state.identifierHashes.set(id.hash, {
      type: id.type,
      value: id.value,
      verified: verified || (held?.verified ?? false),
    });
    state.identifiers = [...state.identifierHashes.values()];
  }

  /**
   * A merged-in event. One whose id this profile knows is the same event sent twice, unless its
   * content differs: then two people's events shared an id (idempotency is per person), both were
   * recorded and counted, and both are kept. An event that left the window is compared by its
   * content's digest; one whose digest is unknown (it left the loser's window, or left before
   * digests were kept) is taken as the same event when no copy is held.
   */
  #importEvent(event: TimelineEvent): void {
    if (this.#knownIds().has(event.event_id)) {
      const body = JSON.stringify(event);
      const held = this.#sql<{ body: string }>`
        SELECT body FROM events WHERE event_id = ${event.event_id}`;
      if (held.some((row) => row.body === body)) return;
      const left = this.#sql<{ digest: string | null }>`
        SELECT digest FROM event_ids WHERE event_id = ${event.event_id}`;
      const same = (row: { digest: string | null }) =>
        row.digest === null ? held.length === 0 : row.digest === digest(body);
      if (left.some(same)) return;
      this.#heldTwice.add(event.event_id);
    }
    this.#insertEvent(event);
  }

  #insertEvent(event: TimelineEvent): void {
    const known = this.#knownIds();
    this.#seq += 1;
    const body = JSON.stringify(event);
    this.#sql`INSERT INTO events (ts, seq, event_id, body)
      VALUES (${Date.parse(event.timestamp)}, ${this.#seq}, ${event.event_id}, ${body})`;
    known.add(event.event_id);
    this.#eventCount += 1;
    this.#eventSize += body.length;
    const state = this.#state;
    if (state) {
      state.recentEvents = [event, ...state.recentEvents].sort(newestFirst).slice(0, RECENT);
    }
  }

  /**
   * A merged-in event that had left the loser's window: its id still a duplicate here, and its
   * digest kept, so a later merge tells a third person's event of that id from it.
   */
  #rememberPruned({ eventId, digest }: PrunedEvent): void {
    const known = this.#knownIds();
    if (known.has(eventId)) return;
    this.#sql`INSERT INTO event_ids (event_id, digest) VALUES (${eventId}, ${digest})`;
    known.add(eventId);
  }

  /**
   * New keys of an event past `maxTraitsPerProfile`: left out of the profile, kept in the event.
   * Over the limit (just merged), none here: the trim after the event decides, by time.
   */
  #traitsPastLimit(state: Loaded, event: TimelineEvent): Set<string> {
    const limit = this.#settings.maxTraitsPerProfile;
    if (state.traitTimes.size > limit) return new Set();
    const fresh = this.#notHeld(state, Object.keys(event.traits ?? {}));
    return new Set(fresh.slice(limit - state.traitTimes.size));
  }

  /** Over `limit` keys (only after a merge): the ones updated longest ago go. Answers them. */
  #trimTraits(limit: number): string[] {
    const state = this.#state;
    if (!state || state.traitTimes.size <= limit) return [];
    const gone = this.#sql<{ key: string }>`DELETE FROM traits WHERE key IN
        (SELECT key FROM traits ORDER BY updated_at DESC, key LIMIT -1 OFFSET ${limit})
        RETURNING key`.map((row) => row.key);
    for (const key of gone) {
      delete state.traits[key];
      state.traitTimes.delete(key);
    }
    return gone;
  }

  #applyTraits(event: TimelineEvent, at: number, dropped: Set<string>): void {
    for (const [key, value] of Object.entries(event.traits ?? {})) {
      if (!dropped.has(key)) this.#setTrait(key, value, at);
    }
  }

  /** Newest wins, so an event that arrives late cannot overwrite a fresher value. */
  #setTrait(key: string, value: TraitValue, at: number): void {
    const state = this.#state;
    if (!state || (state.traitTimes.get(key) ?? Number.NEGATIVE_INFINITY) > at) return;
    this
      .#sql`INSERT INTO traits (key, value, updated_at) VALUES (${key}, ${JSON.stringify(value)}, ${at})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
    state.traits[key] = value;
    state.traitTimes.set(key, at);
  }

  #applyConsent(event: TimelineEvent, source: string, at: number): void {
    const purposes = (event.properties?.purposes ?? {}) as Record<string, "granted" | "denied">;
    for (const [purpose, status] of Object.entries(purposes)) {
      this.#addConsent({ purpose, status, channel: event.channel, source, at });
    }
  }

  /** A choice made now: kept, within each purpose's MAX_CONSENT_CHANGES (see trimConsentHistory). */
  #addConsent(change: ConsentChange): void {
    this.#keepConsent(change);
    const [{ n } = { n: 0 }] = this.#sql<{ n: number }>`
      SELECT count(*) AS n FROM consent_history WHERE purpose = ${change.purpose}`;
    if (n > MAX_CONSENT_CHANGES) this.ctx.storage.sql.exec(trimConsentHistory);
  }

  /** Every choice is kept (up to MAX_CONSENT_CHANGES a purpose); the most recent is the choice. */
  #keepConsent(change: ConsentChange): void {
    this.#sql`INSERT INTO consent_history (purpose, status, channel, source, at)
      VALUES (${change.purpose}, ${change.status}, ${change.channel}, ${change.source}, ${change.at})`;
    const state = this.#state;
    if (
      state &&
      (state.consentTimes.get(change.purpose) ?? Number.NEGATIVE_INFINITY) <= change.at
    ) {
      state.consent[change.purpose] = change.status;
      state.consentTimes.set(change.purpose, change.at);
    }
  }

  #recordConflicts(refused: Refusal[], eventId: string, at: number): void {
    for (const r of refused) {
      this.#insertConflict({
        type: r.type,
        reason: r.reason,
        ...(r.owner ? { profile_id: r.owner } : {}),
        event_id: eventId,
        at: new Date(at).toISOString(),
      });
    }
  }

  #insertConflict(conflict: Conflict): void {
    this.#sql`INSERT INTO conflicts (type, reason, profile_id, event_id, at)
      VALUES (${conflict.type}, ${conflict.reason}, ${conflict.profile_id ?? null},
              ${conflict.event_id}, ${Date.parse(conflict.at)})`;
    this
      .#sql`DELETE FROM conflicts WHERE seq <= (SELECT max(seq) FROM conflicts) - ${MAX_CONFLICTS}`;
    const state = this.#state;
    if (state) state.conflicts = [conflict, ...state.conflicts].slice(0, MAX_CONFLICTS);
  }

  #insertMerge(merge: MergeRecord): void {
    const inserted = this.#sql`INSERT INTO merges (profile_id, via, event_id, channel, at)
      VALUES (${merge.profile_id}, ${JSON.stringify(merge.via)}, ${merge.event_id}, ${merge.channel},
              ${Date.parse(merge.at)})
      ON CONFLICT (profile_id) DO NOTHING RETURNING profile_id`;
    const state = this.#state;
    if (state && inserted.length > 0) state.merges = [...state.merges, merge];
  }

  /**
   * Keeps the newest events, at most `maxEventsPerProfile` of them and `maxHistorySize`
   * characters of JSON (so a person's history, handed over in a merge or exported, stays far
   * below what one RPC may carry); older ones leave the window but stay counted in `archived`,
   * and their ids stay known as duplicates until `maxEventIdsPerProfile` newer ones have come.
   * Answers whether `archived` changed.
   */
  #prune(): boolean {
    const state = this.#state;
    const { maxEventsPerProfile, maxHistorySize } = this.#settings;
    const over = () => this.#eventCount > maxEventsPerProfile || this.#eventSize > maxHistorySize;
    if (!state || !over()) return false;
    while (over()) {
      const old = this.#sql<{ ts: number; seq: number; event_id: string; body: string }>`
        SELECT ts, seq, event_id, body FROM events ORDER BY ts ASC, seq ASC
        LIMIT ${Math.max(this.#eventCount - maxEventsPerProfile, PRUNE_BATCH)}`;
      // Nothing left to let go of: the counters were off (sizes stored before they were kept).
      if (old.length === 0) {
        this.#eventCount = 0;
        this.#eventSize = 0;
      }
      for (const row of old) {
        if (!over()) break;
        foldEvent(state.archived, foldOf(JSON.parse(row.body) as TimelineEvent));
        this.#sql`DELETE FROM events WHERE ts = ${row.ts} AND seq = ${row.seq}`;
        // Numbered as it leaves (n is the next rowid), not as it came: its windows count from now.
        this
          .#sql`INSERT INTO event_ids (event_id, digest) VALUES (${row.event_id}, ${digest(row.body)})`;
        this.#eventCount -= 1;
        this.#eventSize -= row.body.length;
      }
    }
    const forgotten = this.#sql<{ event_id: string }>`
      DELETE FROM event_ids
      WHERE n <= (SELECT max(n) FROM event_ids) - ${this.#settings.maxEventIdsPerProfile}
      RETURNING event_id`;
    for (const { event_id: id } of forgotten) {
      // An id two events share (see #importEvent) is known while either copy is held.
      if (this.#heldTwice.has(id) && this.#holds(id)) continue;
      this.#heldTwice.delete(id);
      this.#knownIdSet?.delete(id);
    }
    return true;
  }

  #recompute(archived: Aggregate): Aggregate {
    const aggregate = structuredClone(archived);
    for (const row of this.#sql<{ body: string }>`SELECT body FROM events`) {
      foldEvent(aggregate, foldOf(JSON.parse(row.body) as TimelineEvent));
    }
    return aggregate;
  }

  /**
   * What changes with every event (the running aggregate, the sequence number, the event count);
   * `archived` only when events leave the window.
   */
  #saveCounters(archivedChanged: boolean): void {
    const state = this.#state;
    if (!state) return;
    // One statement, and one page: meta's few rows share a leaf.
    this.#sql`INSERT INTO meta (key, value)
      VALUES ('aggregate', ${JSON.stringify(state.aggregate)}), ('seq', ${String(this.#seq)}),
             ('event_count', ${String(this.#eventCount)}), ('event_size', ${String(this.#eventSize)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    if (archivedChanged) this.#setMeta("archived", JSON.stringify(state.archived));
  }

  #snapshot(profileId: string): Snapshot {
    const state = this.#state;
    return {
      profileId,
      createdAt: state?.createdAt ?? Date.now(),
      identifiers: this.#sql<{ type: string; hash: string; value: string; verified: number }>`
        SELECT type, hash, value, verified FROM identifiers`.map((r) => ({
        type: r.type as IdentifierType,
        hash: r.hash,
        value: r.value,
        verified: r.verified === 1,
      })),
      events: this.#sql<{ body: string }>`SELECT body FROM events`.map(
        (r) => JSON.parse(r.body) as TimelineEvent,
      ),
      prunedEvents: this.#prunedEvents(),
      traits: this.#sql<{ key: string; value: string; updated_at: number }>`
        SELECT key, value, updated_at FROM traits`.map((r) => ({
        key: r.key,
        value: JSON.parse(r.value) as TraitValue,
        updatedAt: r.updated_at,
      })),
      consentHistory: this.#consentHistory(),
      archived: state?.archived ?? emptyAggregate(),
      merges: state?.merges ?? [],
      conflicts: state?.conflicts ?? [],
    };
  }

  #consentHistory(): ConsentChange[] {
    return this.#sql<{
      purpose: string;
      status: string;
      channel: string;
      source: string;
      at: number;
    }>`
      SELECT purpose, status, channel, source, at FROM consent_history ORDER BY at, seq`.map(
      (r) => ({
        purpose: r.purpose,
        status: r.status as ConsentChange["status"],
        channel: r.channel,
        source: r.source,
        at: r.at,
      }),
    );
  }

  #load(): void {
    this.#views.clear();
    const meta = new Map(
      this.#sql<{ key: string; value: string }>`SELECT key, value FROM meta`.map((r) => [
        r.key,
        r.value,
      ]),
    );
    this.#profileId = meta.get("profile_id") ?? null;
    this.#mergedInto = meta.get("merged_into") ?? null;
    this.#handoverPending = meta.has("handover");
    this.#erasedAt = meta.get("erased") ?? null;
    this.#eventCount = Number(meta.get("event_count") ?? 0);
    // Profiles stored before the size was kept count it once.
    this.#eventSize = Number(
      meta.get("event_size") ??
        this.#sql<{ n: number }>`SELECT coalesce(sum(length(body)), 0) AS n FROM events`[0]?.n ??
        0,
    );
    this.#seq = Number(meta.get("seq") ?? 0);
    this.#knownIdSet = null;
    const createdAt = meta.get("created_at");
    if (!this.#profileId || createdAt === undefined) {
      // Never created, merged away or erased.
      this.#state = null;
      return;
    }
    const { currency } = this.#settings;
    const identifierHashes = new Map<string, HeldIdentifier>();
    for (const r of this.#sql<{ type: string; hash: string; value: string; verified: number }>`
      SELECT type, hash, value, verified FROM identifiers ORDER BY added_at`) {
      identifierHashes.set(r.hash, {
        type: r.type as IdentifierType,
        value: r.value,
        verified: r.verified === 1,
      });
    }
    const traits: Record<string, TraitValue> = {};
    const traitTimes = new Map<string, number>();
    for (const r of this.#sql<{
      key: string;
      value: string;
      updated_at: number;
    }>`SELECT key, value, updated_at FROM traits`) {
      traits[r.key] = JSON.parse(r.value) as TraitValue;
      traitTimes.set(r.key, r.updated_at);
    }
    const consent: Record<string, "granted" | "denied"> = {};
    const consentTimes = new Map<string, number>();
    for (const change of this.#consentHistory()) {
      consent[change.purpose] = change.status;
      consentTimes.set(change.purpose, change.at);
    }
    this.#state = {
      profileId: this.#profileId,
      createdAt: Number(createdAt),
      identifiers: [...identifierHashes.values()],
      identifierHashes,
      traits,
      traitTimes,
      aggregate: restoreAggregate(JSON.parse(meta.get("aggregate") ?? "null"), currency),
      archived: restoreAggregate(JSON.parse(meta.get("archived") ?? "null"), currency),
      currency,
      consent,
      consentTimes,
      conflicts: this.#sql<{
        type: string;
        reason: string;
        profile_id: string | null;
        event_id: string;
        at: number;
      }>`
        SELECT type, reason, profile_id, event_id, at FROM conflicts ORDER BY seq DESC`.map(
        (r) => ({
          type: r.type,
          reason: r.reason as Conflict["reason"],
          ...(r.profile_id ? { profile_id: r.profile_id } : {}),
          event_id: r.event_id,
          at: new Date(r.at).toISOString(),
        }),
      ),
      merges: this.#sql<{
        profile_id: string;
        via: string;
        event_id: string;
        channel: string;
        at: number;
      }>`
        SELECT profile_id, via, event_id, channel, at FROM merges ORDER BY at`.map((r) => ({
        profile_id: r.profile_id,
        via: JSON.parse(r.via) as string[],
        event_id: r.event_id,
        channel: r.channel,
        at: new Date(r.at).toISOString(),
      })),
      recentEvents: this.#sql<{ body: string }>`
        SELECT body FROM events ORDER BY ts DESC, event_id DESC, body DESC LIMIT ${RECENT}`.map(
        (r) => JSON.parse(r.body) as TimelineEvent,
      ),
    };
  }
}
