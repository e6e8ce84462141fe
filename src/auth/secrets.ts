// API key secrets: random, shown once, stored and compared only as SHA-256 hashes.
import { base64url } from "../identity/hash";

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

const configured = new Map<string, Promise<string>>();

/** The hash of a configured secret (the bootstrap admin key), computed once per isolate. */
export function configuredHash(secret: string): Promise<string> {
  let hash = configured.get(secret);
  if (!hash) {
    hash = hashSecret(secret);
    configured.set(secret, hash);
  }
  return hash;
}

/** Constant-time comparison of two hashes (equal lengths by construction). */
export function sameHash(a: string, b: string): boolean {
  return (
    a.length === b.length && crypto.subtle.timingSafeEqual(encoder.encode(a), encoder.encode(b))
  );
}
