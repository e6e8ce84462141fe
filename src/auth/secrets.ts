// API key secrets: random, shown once, stored and compared only as SHA-256 hashes.
import { base64url } from "../identity/hash";
import { IsolateCache } from "../isolate-cache";

const encoder = new TextEncoder();

export function randomToken(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Secret keys start `sk_`, publishable (web) keys `pk_`, so a leaked one is recognisable. */
export function newSecret(publishable: boolean): string {
  return `${publishable ? "pk" : "sk"}_${randomToken(32)}`;
}

export async function hashSecret(secret: string): Promise<string> {
  return base64url(await crypto.subtle.digest("SHA-256", encoder.encode(secret)));
}

// Keys arrive again and again: their hashes are kept per isolate (bounded), so a request pays a
// map lookup instead of a SHA-256. Revocation is unaffected: the hash is looked up in the key table.
const KNOWN_MAX = 10_000;
const known = new IsolateCache<string>(KNOWN_MAX);

/** The hash of a configured secret (the admin key), computed once per isolate. */
export async function knownHash(secret: string): Promise<string> {
  const hash = await presentedHash(secret);
  keepHash(secret, hash);
  return hash;
}

/** The hash of a presented secret: from the memo if it was accepted before. */
export async function presentedHash(secret: string): Promise<string> {
  return known.get(secret) ?? hashSecret(secret);
}

/**
 * Keeps an accepted secret's hash. Only accepted ones: anyone may send thousands of made-up keys
 * of up to 8 KiB, which would otherwise fill the isolate's memory.
 */
export function keepHash(secret: string, hash: string): void {
  known.set(secret, hash);
}

/** Constant-time comparison of two hashes (equal lengths by construction). */
export function sameHash(a: string, b: string): boolean {
  return (
    a.length === b.length && crypto.subtle.timingSafeEqual(encoder.encode(a), encoder.encode(b))
  );
}
