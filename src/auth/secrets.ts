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

/** Constant-time comparison of two secrets, through their hashes (equal lengths by construction). */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([hashSecret(a), hashSecret(b)]);
  return crypto.subtle.timingSafeEqual(encoder.encode(x), encoder.encode(y));
}
