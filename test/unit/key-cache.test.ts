// When a request reads the key table itself rather than the isolate's copy.
import { describe, expect, it } from "vitest";
import { MAX_AGE_MS, mustRefresh, REFRESH_AFTER_MS } from "../../src/config/cache";

const fetchedAt = 1_000_000;

describe("the isolate's copy of the key table", () => {
  it("is read when there is none", () => {
    expect(mustRefresh(fetchedAt, null, null)).toBe(true);
    expect(mustRefresh(fetchedAt, null, fetchedAt)).toBe(true);
  });

  it("is used while it is young", () => {
    expect(mustRefresh(fetchedAt + REFRESH_AFTER_MS - 1, fetchedAt, null)).toBe(false);
  });

  it("is read again by one request once it is due, while the others keep using it", () => {
    const due = fetchedAt + REFRESH_AFTER_MS;
    expect(mustRefresh(due, fetchedAt, null)).toBe(true);
    expect(mustRefresh(due + 10, fetchedAt, due)).toBe(false);
  });

  it("is never used past its maximum age, whoever is reading it", () => {
    const old = fetchedAt + MAX_AGE_MS;
    expect(mustRefresh(old, fetchedAt, old - 100)).toBe(true);
  });

  it("is read by another request when the first read does not answer", () => {
    const due = fetchedAt + REFRESH_AFTER_MS;
    expect(mustRefresh(due + (MAX_AGE_MS - REFRESH_AFTER_MS), fetchedAt, due)).toBe(true);
  });
});
