import { describe, expect, it } from "vitest";
import { ADMIN, call, event, unique } from "./helpers";

describe("smoke", () => {
  it("records a visit and recognizes the person", async () => {
    const email = `${unique()}@example.com`;
    const res = await event(ADMIN, { type: "visit", channel: "web", identifiers: { email } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe("recorded");
    const found = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { email: email.toUpperCase() } },
    });
    expect(found.status, found.text).toBe(200);
    expect(found.json.profile_id).toBe(res.json.profile_id);
  });
});
