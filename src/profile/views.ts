// Views: the one place that decides which fields of a profile a role sees.

import { withoutExtension } from "../identity/normalize";
import type { IdentifierType } from "../identity/types";
import { type JsonText, jsonText } from "../json-text";
import type {
  Conflict,
  CustomerView,
  Export,
  FullView,
  KioskView,
  MergeRecord,
  ProfileView,
  StaffView,
  TimelineEvent,
  TraitValue,
} from "../schemas";
import { type Aggregate, toComputed } from "./computed";

export type ViewKind = ProfileView["view"];
export type ViewOf<K extends ViewKind> = Extract<ProfileView, { view: K }>;

export interface HeldIdentifier {
  type: IdentifierType;
  value: string;
  verified: boolean;
}

/** Everything a view can draw on; built by the ProfileObject from its memory. */
export interface ProfileState {
  profileId: string;
  createdAt: number;
  identifiers: HeldIdentifier[];
  traits: Record<string, TraitValue>;
  aggregate: Aggregate;
  /** The brand's currency, which lifetime value is counted in. */
  currency: string;
  consent: Record<string, "granted" | "denied">;
  conflicts: Conflict[];
  merges: MergeRecord[];
  recentEvents: TimelineEvent[];
}

const text = (value: TraitValue | undefined) =>
  typeof value === "string" && value ? value : undefined;
const number = (value: TraitValue | undefined) => (typeof value === "number" ? value : null);

/** `jane.doe@example.com` → `j***@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  return `${email.slice(0, Math.min(1, at))}***${email.slice(at)}`;
}

/** `+14155550132` → `•••• 0132`; an extension (`;ext=5`) is left out. */
export function maskPhone(phone: string): string {
  return `•••• ${withoutExtension(phone).slice(-4)}`;
}

function values(state: ProfileState, type: IdentifierType, verified = true): string[] {
  return state.identifiers
    .filter((i) => i.type === type && i.verified === verified)
    .map((i) => i.value);
}

function grouped(state: ProfileState, verified: boolean): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of state.identifiers) {
    if (id.verified === verified) out[id.type] = [...(out[id.type] ?? []), id.value];
  }
  return out;
}

function named(state: ProfileState) {
  const first = text(state.traits.first_name);
  return first === undefined ? {} : { first_name: first };
}

// Tiers may be numbered (1, 2, 3) and points sent as text ("1200"): shown either way.
const loyalty = (state: ProfileState) => {
  const { loyalty_tier: tier, loyalty_points: points } = state.traits;
  return {
    tier: typeof tier === "number" ? String(tier) : (text(tier) ?? null),
    points:
      typeof points === "string" && /^-?\d+(\.\d+)?$/.test(points)
        ? Number(points)
        : number(points),
  };
};

/** Staff see what happened where, not what was said: no traits or properties. */
function withoutContent({ traits: _t, properties: _p, ...event }: TimelineEvent) {
  return event;
}

/** A timeline event as a role may see it. */
export function timelineFor(kind: ViewKind, event: TimelineEvent): TimelineEvent {
  return kind === "full" ? event : withoutContent(event);
}

/**
 * The person's own export: everything held about them, but not which other profile keeps an
 * identifier they gave (a conflict's `profile_id` is someone else's).
 */
export function ownExport(exported: Export): Export {
  return {
    ...exported,
    conflicts: exported.conflicts.map(({ profile_id: _other, ...conflict }) => conflict),
  };
}

export function fullView(state: ProfileState): FullView {
  return {
    view: "full",
    profile_id: state.profileId,
    ...named(state),
    identifiers: grouped(state, true),
    claimed_identifiers: grouped(state, false),
    traits: { ...state.traits },
    computed: toComputed(state.aggregate, state.currency),
    segments: [],
    consent: { ...state.consent },
    conflicts: state.conflicts,
    merges: state.merges,
    created_at: new Date(state.createdAt).toISOString(),
  };
}

export function staffView(state: ProfileState): StaffView {
  const last = text(state.traits.last_name);
  return {
    view: "staff",
    profile_id: state.profileId,
    ...named(state),
    ...(last === undefined ? {} : { last_name: last }),
    contacts: {
      email: values(state, "email").map(maskEmail),
      phone: values(state, "phone").map(maskPhone),
    },
    loyalty_id: values(state, "loyalty_id")[0] ?? null,
    loyalty: loyalty(state),
    segments: [],
    stats: { visits: { ...state.aggregate.visits }, purchases: { ...state.aggregate.purchases } },
    recent_events: state.recentEvents.slice(0, 5).map(withoutContent),
    consent: { ...state.consent },
    next_message: null,
  };
}

export function kioskView(state: ProfileState): KioskView {
  return {
    view: "kiosk",
    profile_id: state.profileId,
    ...named(state),
    loyalty: loyalty(state),
    next_message: null,
  };
}

export function customerView(state: ProfileState): CustomerView {
  return {
    view: "customer",
    profile_id: state.profileId,
    ...named(state),
    loyalty: loyalty(state),
    segments: [],
    consent: { ...state.consent },
    next_message: null,
  };
}

const builders: { [K in ViewKind]: (state: ProfileState) => ViewOf<K> } = {
  full: fullView,
  staff: staffView,
  kiosk: kioskView,
  customer: customerView,
};

export function buildView<K extends ViewKind>(kind: K, state: ProfileState): ViewOf<K> {
  return builders[kind](state) as ViewOf<K>;
}

/** A view as the JSON text it is sent as (json-text.ts). */
export function viewText<K extends ViewKind>(kind: K, state: ProfileState): JsonText<ViewOf<K>> {
  return jsonText(buildView(kind, state));
}
