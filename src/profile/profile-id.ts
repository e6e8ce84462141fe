// Profile ids lead with the time they were minted, like a UUIDv7. A new person's id is claimed in
// the index before the first event creates the profile, so planners may see it before and after
// its creation; the mint time is its age in both, and "oldest survives" (identity/rules.ts) never
// changes its mind about two profiles, which opposite merges of them would need.

const MINTED = /^pr_([0-9a-f]{12})7[0-9a-f]{19}$/;

export function newProfileId(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(10));
  const hex = Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `pr_${now.toString(16).padStart(12, "0")}7${hex.slice(0, 19)}`;
}

/** When a time-ordered id was minted; null for the random ids minted before them. */
export function mintedAt(profileId: string): number | null {
  const match = MINTED.exec(profileId);
  return match?.[1] ? Number.parseInt(match[1], 16) : null;
}
