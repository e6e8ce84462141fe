// The ProfileObject's RPC contract: plain data in and out, domain outcomes as values, not throws.
import type { Holdings, Offered, Refusal } from "../identity/rules";
import type { IdentifierType } from "../identity/types";
import type { JsonText } from "../json-text";
import type { Conflict, MergeRecord, ProfileView, TimelineEvent, TraitValue } from "../schemas";
import type { Aggregate } from "./computed";
import type { ProfileObject } from "./profile-object";
import type { ViewKind } from "./views";

/**
 * A merged-away profile forwards (`pending` while the survivor has not imported it yet); an
 * erased or never-created one is missing.
 */
export type Outcome<T> =
  | { status: "ok"; value: T }
  | { status: "forward"; to: string; pending?: true }
  | { status: "missing" };

export interface OfferedIdentifier extends Offered {
  value: string;
}

export interface IngestInput {
  profileId: string;
  event: TimelineEvent;
  /** Identifiers of the event that point at this profile already. */
  held: OfferedIdentifier[];
  /** Unowned verified identifiers this profile may take, subject to its rules. */
  offered: OfferedIdentifier[];
  /** Identifiers a device claimed: kept here, never linked or merged on. */
  claimed: OfferedIdentifier[];
  /** What resolution refused already (merge protection, limits), for the conflicts list. */
  refused: Refusal[];
  /** Who sent it, for the consent history. */
  source: string;
  view: ViewKind;
}

export type IngestOutcome =
  | {
      kind: "recorded" | "duplicate";
      view: JsonText<ProfileView>;
      /** Offered identifiers this profile took: the caller links them. */
      accepted: Offered[];
      /** The event's new trait keys the profile had no room for. */
      droppedTraits: string[];
    }
  | { kind: "split"; holdings: Holdings };

/** What pointed at an erased profile: its identifiers' hashes and the ids merged into it. */
export interface Erased {
  identifierHashes: string[];
  mergedIds: string[];
}

export interface MergeInfo {
  via: IdentifierType[];
  eventId: string;
  channel: string;
}

/** An event that left a profile's window: its id, still a duplicate, and its content's digest. */
export interface PrunedEvent {
  eventId: string;
  digest: string | null;
}

/** Everything a loser hands to its survivor. */
export interface Snapshot {
  profileId: string;
  createdAt: number;
  identifiers: { type: IdentifierType; hash: string; value: string; verified: boolean }[];
  events: TimelineEvent[];
  /** Events that left the window, by id and content digest (null when unknown). */
  prunedEvents: PrunedEvent[];
  traits: { key: string; value: TraitValue; updatedAt: number }[];
  consentHistory: ConsentChange[];
  archived: Aggregate;
  merges: MergeRecord[];
  conflicts: Conflict[];
}

export interface ConsentChange {
  purpose: string;
  status: "granted" | "denied";
  channel: string;
  source: string;
  at: number;
}

export interface TimelinePage {
  events: TimelineEvent[];
  next: string | null;
}

/**
 * The ProfileObject as its callers see it over RPC. Derived from the class; it skips the
 * runtime's structural Serializable check, which gives up on open JSON types (`unknown`).
 */
type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

export type ProfileStub = Remote<ProfileObject>;

export function profileStub(env: Env, profileId: string): ProfileStub {
  return env.PROFILES.getByName(profileId) as unknown as ProfileStub;
}
