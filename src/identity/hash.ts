// Peppered identifier hashes: `type:HMAC(pepper, value)` keys the identifier index; no raw value ever does.
import { Problem } from "../errors";
import { IsolateCache, PERSONAL_MAX_AGE_MS } from "../isolate-cache";
import type { Identifier, IdentifierType } from "./types";

const encoder = new TextEncoder();
const RECENT_MAX = 50_000;

interface Hasher {
  key: Promise<CryptoKey>;
  // Known people arrive again and again: skip the HMAC for values seen recently in this isolate.
  recent: IsolateCache<string>;
}

const hashers = new Map<string, Hasher>();

function hasher(pepper: string): Hasher {
  // Our own configuration is broken, not the request: said so, rather than "retry".
  if (!pepper) throw new Problem(500, "Identifiers cannot be hashed: IDENTITY_PEPPER is not set");
  let found = hashers.get(pepper);
  if (!found) {
    const key = crypto.subtle.importKey(
      "raw",
      encoder.encode(pepper),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    found = { key, recent: new IsolateCache(RECENT_MAX, PERSONAL_MAX_AGE_MS) };
    hashers.set(pepper, found);
  }
  return found;
}

export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export async function hashIdentifier(
  pepper: string,
  type: IdentifierType,
  value: string,
): Promise<Identifier> {
  const { key, recent } = hasher(pepper);
  const input = `${type}:${value}`;
  let hash = recent.get(input);
  if (hash === undefined) {
    const mac = await crypto.subtle.sign("HMAC", await key, encoder.encode(input));
    hash = `${type}:${base64url(mac)}`;
    recent.set(input, hash);
  }
  return { type, value, hash };
}
