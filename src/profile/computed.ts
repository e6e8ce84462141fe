// Computed traits as a mergeable aggregate: updated per event in O(1), combined on a merge.
import type { Computed, TimelineEvent } from "../schemas";

export interface Aggregate {
  visits: Record<string, number>;
  purchases: Record<string, number>;
  lastSeen: Record<string, number>;
  firstSeen: number | null;
  /** Purchase totals and counts by ISO 4217 currency: amounts in two currencies never add up. */
  revenue: Record<string, number>;
  orders: Record<string, number>;
  lastPurchase: number | null;
  stores: Record<string, number>;
  categories: Record<string, number>;
  nps: { value: number; at: number } | null;
}

/** What the aggregate needs to know of one event. */
export interface Fold {
  type: string;
  channel: string;
  storeId?: string | undefined;
  at: number;
  total?: number | undefined;
  currency?: string | undefined;
  categories?: { category: string; quantity: number }[];
  nps?: number | undefined;
}

export const emptyAggregate = (): Aggregate => ({
  visits: {},
  purchases: {},
  lastSeen: {},
  firstSeen: null,
  revenue: {},
  orders: {},
  lastPurchase: null,
  stores: {},
  categories: {},
  nps: null,
});

// Keys are client text (a store id, a category): "constructor" or "__proto__" must count like any
// other, so reads see own keys only and writes define the key instead of assigning through setters.
const own = (map: Record<string, number>, key: string) =>
  Object.hasOwn(map, key) ? map[key] : undefined;
const put = (map: Record<string, number>, key: string, n: number) => {
  Object.defineProperty(map, key, {
    value: n,
    enumerable: true,
    writable: true,
    configurable: true,
  });
};
const add = (map: Record<string, number>, key: string, n: number) => {
  put(map, key, (own(map, key) ?? 0) + n);
};
const later = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.max(a, b);
const earlier = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.min(a, b);

/** Adds one event, in place; the caller owns the aggregate. */
export function foldEvent(agg: Aggregate, event: Fold): Aggregate {
  agg.firstSeen = earlier(agg.firstSeen, event.at);
  agg.lastSeen[event.channel] = later(agg.lastSeen[event.channel] ?? null, event.at) as number;
  // A visit or a purchase counts as a visit on its channel.
  if (event.type === "visit" || event.type === "purchase") {
    add(agg.visits, event.channel, 1);
    if (event.storeId) add(agg.stores, event.storeId, 1);
  }
  if (event.type === "purchase") {
    add(agg.purchases, event.channel, 1);
    if (event.currency) {
      add(agg.revenue, event.currency, event.total ?? 0);
      add(agg.orders, event.currency, 1);
    }
    agg.lastPurchase = later(agg.lastPurchase, event.at);
    for (const item of event.categories ?? []) add(agg.categories, item.category, item.quantity);
  }
  if (event.nps !== undefined && (agg.nps === null || event.at >= agg.nps.at)) {
    agg.nps = { value: event.nps, at: event.at };
  }
  return agg;
}

function sumMaps(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [key, n] of Object.entries(b)) add(out, key, n);
  return out;
}

function maxMaps(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [key, t] of Object.entries(b)) put(out, key, Math.max(own(out, key) ?? t, t));
  return out;
}

export function combine(a: Aggregate, b: Aggregate): Aggregate {
  return {
    visits: sumMaps(a.visits, b.visits),
    purchases: sumMaps(a.purchases, b.purchases),
    lastSeen: maxMaps(a.lastSeen, b.lastSeen),
    firstSeen: earlier(a.firstSeen, b.firstSeen),
    revenue: sumMaps(a.revenue, b.revenue),
    orders: sumMaps(a.orders, b.orders),
    lastPurchase: later(a.lastPurchase, b.lastPurchase),
    stores: sumMaps(a.stores, b.stores),
    categories: sumMaps(a.categories, b.categories),
    nps: !a.nps ? b.nps : !b.nps ? a.nps : a.nps.at >= b.nps.at ? a.nps : b.nps,
  };
}

const total = (map: Record<string, number>) => Object.values(map).reduce((sum, n) => sum + n, 0);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The most frequent key; ties go to the alphabetically first so every reader agrees. */
function favorite(map: Record<string, number>): string | null {
  let best: [string, number] | null = null;
  for (const entry of Object.entries(map).sort(([a], [b]) => a.localeCompare(b))) {
    if (!best || entry[1] > best[1]) best = entry;
  }
  return best?.[0] ?? null;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Computed traits, with money in the brand's `currency` (other currencies shown apart). */
export function toComputed(agg: Aggregate, currency: string): Computed {
  const lastSeen = Object.values(agg.lastSeen);
  const purchaseCount = total(agg.purchases);
  const revenue = own(agg.revenue, currency) ?? 0;
  const orders = own(agg.orders, currency) ?? 0;
  return {
    visit_count: total(agg.visits),
    visits_by_channel: { ...agg.visits },
    first_seen_at: iso(agg.firstSeen),
    last_seen_at: iso(lastSeen.length ? Math.max(...lastSeen) : null),
    last_seen_by_channel: Object.fromEntries(
      Object.entries(agg.lastSeen).map(([channel, t]) => [channel, new Date(t).toISOString()]),
    ),
    purchase_count: purchaseCount,
    lifetime_value: round(revenue),
    average_order_value: orders ? round(revenue / orders) : null,
    lifetime_value_by_currency: Object.fromEntries(
      Object.entries(agg.revenue).map(([code, value]) => [code, round(value)]),
    ),
    last_purchase_at: iso(agg.lastPurchase),
    favorite_store: favorite(agg.stores),
    favorite_category: favorite(agg.categories),
    last_nps: agg.nps?.value ?? null,
  };
}

const asNumber = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined;

/**
 * The time an event counts from: its own, never later than it arrived. An event dated ahead (a fast
 * clock; the contract allows 24 h) carries `received_at`, and must neither outrank what the person
 * says now (traits, consent) nor make "last seen" a time still to come.
 */
export function countedAt(event: TimelineEvent): number {
  const at = Date.parse(event.timestamp);
  return event.received_at ? Math.min(at, Date.parse(event.received_at)) : at;
}

/** What a stored event adds to the aggregate; properties were validated on the way in. */
export function foldOf(event: TimelineEvent): Fold {
  const properties = event.properties ?? {};
  const items = Array.isArray(properties.items)
    ? (properties.items as Record<string, unknown>[])
    : [];
  return {
    type: event.type,
    channel: event.channel,
    storeId: event.store_id,
    at: countedAt(event),
    total: event.type === "purchase" ? asNumber(properties.total) : undefined,
    currency:
      event.type === "purchase" && typeof properties.currency === "string"
        ? properties.currency
        : undefined,
    // A till's blank category field is no category: never a person's favourite.
    categories: items.flatMap((item) => {
      const category = typeof item.category === "string" ? item.category.trim() : "";
      return category ? [{ category, quantity: asNumber(item.quantity) ?? 1 }] : [];
    }),
    nps: event.type === "survey" ? asNumber(properties.nps) : undefined,
  };
}

/**
 * An aggregate as stored. Those stored before revenue was kept per currency hold one sum: it is
 * counted in the brand's currency, the only one a brand selling in one currency had.
 */
export function restoreAggregate(stored: unknown, currency: string): Aggregate {
  if (stored === null || typeof stored !== "object") return emptyAggregate();
  const agg = stored as Aggregate | (Omit<Aggregate, "revenue" | "orders"> & { revenue: number });
  const categories = counted(agg.categories);
  if (typeof agg.revenue !== "number") return { ...(agg as Aggregate), categories };
  const orders = total(agg.purchases);
  return {
    ...agg,
    categories,
    revenue: orders ? { [currency]: agg.revenue } : {},
    orders: orders ? { [currency]: orders } : {},
  };
}

/** Categories as they count now (see foldOf): trimmed, a blank one none, for those stored before. */
function counted(categories: Record<string, number>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, n] of Object.entries(categories)) {
    const category = key.trim();
    if (category) add(result, category, n);
  }
  return result;
}
