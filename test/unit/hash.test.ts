import { describe, expect, it } from "vitest";
import { Problem } from "../../src/errors";
import { hashIdentifier } from "../../src/identity/hash";

describe("hashIdentifier", () => {
  it("names the missing IDENTITY_PEPPER instead of failing anonymously", async () => {
    const refused = await hashIdentifier("", "email", "jane@example.com").catch((e) => e);
    expect(refused).toBeInstanceOf(Problem);
    expect(refused).toMatchObject({ status: 500 });
    expect(String(refused.message)).toContain("IDENTITY_PEPPER is not set");
  });

  it("keys identifiers by type and pepper", async () => {
    const a = await hashIdentifier("pepper-1", "email", "jane@example.com");
    const b = await hashIdentifier("pepper-2", "email", "jane@example.com");
    expect(a.hash).toMatch(/^email:/);
    expect(a.hash).not.toBe(b.hash);
  });
});
