import { describe, expect, it } from "vitest";
import {
  combine,
  emptyAggregate,
  type Fold,
  foldEvent,
  foldOf,
  restoreAggregate,
  toComputed,
} from "../../src/profile/computed";

const t = (day: number) => Date.UTC(2025, 0, day);
const events: Fold[] = [
  { type: "visit", channel: "web", at: t(3) },
  {
    type: "purchase",
    channel: "store",
    storeId: "s1",
    at: t(5),
    total: 100,
    currency: "USD",
    categories: [{ category: "shoes", quantity: 1 }],
  },
  {
    type: "purchase",
    channel: "web",
    at: t(7),
    total: 20,
    currency: "USD",
    categories: [{ category: "bags", quantity: 3 }],
  },
  { type: "survey", channel: "email", at: t(8), nps: 7 },
  { type: "visit", channel: "store", storeId: "s2", at: t(1) },
  { type: "survey", channel: "email", at: t(2), nps: 3 },
  { type: "visit", channel: "store", storeId: "s1", at: t(9) },
];

const foldAll = (list: Fold[]) => list.reduce((agg, e) => foldEvent(agg, e), emptyAggregate());

describe("computed traits", () => {
  it("counts visits, purchases and value per channel", () => {
    expect(toComputed(foldAll(events), "USD")).toEqual({
      visit_count: 5,
      visits_by_channel: { web: 2, store: 3 },
      first_seen_at: new Date(t(1)).toISOString(),
      last_seen_at: new Date(t(9)).toISOString(),
      last_seen_by_channel: {
        web: new Date(t(7)).toISOString(),
        store: new Date(t(9)).toISOString(),
        email: new Date(t(8)).toISOString(),
      },
      purchase_count: 2,
      lifetime_value: 120,
      average_order_value: 60,
      lifetime_value_by_currency: { USD: 120 },
      last_purchase_at: new Date(t(7)).toISOString(),
      favorite_store: "s1",
      favorite_category: "bags",
      last_nps: 7,
    });
  });

  it("combines two halves into exactly what folding everything gives, in any split", () => {
    for (let cut = 0; cut <= events.length; cut++) {
      const merged = combine(foldAll(events.slice(0, cut)), foldAll(events.slice(cut)));
      expect(toComputed(merged, "USD")).toEqual(toComputed(foldAll(events), "USD"));
    }
  });

  it("takes a blank category for none, and a category's stray spaces for nothing", () => {
    const purchase = (items: { category: string; quantity?: number }[]) =>
      foldOf({
        event_id: "o",
        type: "purchase",
        channel: "store",
        timestamp: new Date(t(4)).toISOString(),
        properties: { order_id: "o", total: 9, currency: "USD", items },
      });
    const agg = foldAll([
      purchase([{ category: "shoes", quantity: 2 }]),
      purchase([{ category: "" }, { category: "" }, { category: " " }, { category: "shoes " }]),
    ]);
    expect(toComputed(agg, "USD").favorite_category).toBe("shoes");
    expect(
      toComputed(foldAll([purchase([{ category: "  " }])]), "USD").favorite_category,
    ).toBeNull();
  });

  it("reads categories stored before blanks were dropped as they count now", () => {
    const stored = { ...foldAll(events), categories: { "": 5, shoes: 1, "shoes ": 1, bags: 1 } };
    const restored = restoreAggregate(JSON.parse(JSON.stringify(stored)), "USD");
    expect(restored.categories).toEqual({ shoes: 2, bags: 1 });
    expect(toComputed(restored, "USD").favorite_category).toBe("shoes");
    // Read back from storage, a category is any text, Object.prototype's names included.
    const named = restoreAggregate(
      JSON.parse('{"categories":{"__proto__":1,"constructor":1,"shoes":5}}'),
      "USD",
    );
    expect(Object.entries(named.categories)).toEqual([
      ["__proto__", 1],
      ["constructor", 1],
      ["shoes", 5],
    ]);
  });

  it("is empty and null-valued for a profile with no events", () => {
    expect(toComputed(emptyAggregate(), "USD")).toMatchObject({
      visit_count: 0,
      average_order_value: null,
      favorite_store: null,
      last_seen_at: null,
    });
  });

  it("never adds amounts of two currencies: value in the brand's, the others apart", () => {
    const agg = foldAll([
      ...events,
      { type: "purchase", channel: "web", at: t(10), total: 15_000, currency: "JPY" },
    ]);
    expect(toComputed(agg, "USD")).toMatchObject({
      purchase_count: 3,
      lifetime_value: 120,
      average_order_value: 60,
      lifetime_value_by_currency: { USD: 120, JPY: 15_000 },
    });
    expect(toComputed(agg, "JPY")).toMatchObject({
      lifetime_value: 15_000,
      average_order_value: 15_000,
    });
  });

  it("reads an aggregate stored with one sum as purchases in the brand's currency", () => {
    const { revenue: _r, orders: _o, ...rest } = foldAll(events);
    const old = { ...rest, revenue: 120 };
    expect(toComputed(restoreAggregate(old, "EUR"), "EUR")).toMatchObject({
      lifetime_value: 120,
      average_order_value: 60,
      lifetime_value_by_currency: { EUR: 120 },
    });
    expect(restoreAggregate(null, "EUR")).toEqual(emptyAggregate());
  });
});
