// Synthetic people and their events. Everything derives from a person's number, so the seeding
// (in the orchestrator) and the load (in the load generator) agree without sharing state.

/**
 * Number ranges that never overlap: the seeded crowd, the scale-curve profiles, the merge pairs
 * and the strangers of the creation phase (200,000 per round of a phase, workloads.mjs).
 */
export const RANGES = { crowd: 0, scale: 4_000_000, merge: 4_100_000, strangers: 5_000_000 };

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const FIRST_NAMES = ["Ana", "Ben", "Chloé", "Dev", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Jia"];
const LAST_NAMES = ["Okafor", "Silva", "Nguyen", "Müller", "Khan", "Rossi", "Kim", "Dubois"];
const TIERS = ["bronze", "silver", "gold"];
const CATEGORIES = ["shoes", "outerwear", "accessories", "denim", "kids"];

/** Every identifier type; half of the people also have an app account (`user_id`). */
export function identifiersOf(n) {
  return {
    email: `person${n}@bench.example`,
    // 415-200-0000 onwards: valid US numbers, far from the blocklisted placeholders.
    phone: `+1415${2_000_000 + n}`,
    loyalty_id: `L${n}`,
    ...(n % 2 === 0 ? { user_id: `u${n}` } : {}),
    device_id: `dev-${n}`,
    anonymous_id: `anon-${n}`,
  };
}

/** The event that introduces a person, with traits the views show. */
export function introduction(n, identifiers, eventId) {
  return {
    id: eventId,
    type: "identify",
    channel: "web",
    timestamp: historyTime(0),
    identifiers,
    traits: {
      first_name: FIRST_NAMES[n % FIRST_NAMES.length],
      last_name: LAST_NAMES[n % LAST_NAMES.length],
      loyalty_tier: TIERS[n % TIERS.length],
      loyalty_points: (n * 37) % 5_000,
    },
  };
}

/** The k-th later event of a person: mostly visits, every fourth a purchase, across channels. */
export function laterEvent(n, k, identifiers, eventId) {
  const channel = ["web", "app", "store", "kiosk"][k % 4];
  const common = {
    id: eventId,
    channel,
    ...(channel === "store" || channel === "kiosk" ? { store_id: `s${(n + k) % 20}` } : {}),
    timestamp: historyTime(k),
    identifiers,
  };
  if (k % 4 !== 3) return { ...common, type: "visit" };
  const price = 20 + ((n + k) % 80);
  return {
    ...common,
    type: "purchase",
    properties: {
      order_id: `o-${eventId}`,
      total: price * 2,
      currency: "USD",
      items: [
        { sku: `sku-${k % 50}`, category: CATEGORIES[k % CATEGORIES.length], price, quantity: 2 },
      ],
    },
  };
}

/** One identifier a returning person is known by, rotating through the types they have. */
export function oneIdentifier(identifiers, k) {
  const types = Object.keys(identifiers);
  const type = types[k % types.length];
  return { [type]: identifiers[type] };
}

/** History spans the last ~14 months, oldest first, an hour apart: all in the past. */
function historyTime(k) {
  return new Date(Date.now() - 430 * DAY_MS + k * HOUR_MS).toISOString();
}
