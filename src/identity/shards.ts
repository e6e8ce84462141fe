// The identifier index is split over a fixed number of IdentityObjects. Fixed: changing it would
// move identifiers to other shards and orphan their links, like changing the pepper.
export const IDENTITY_SHARDS = 256;

/** The shard holding an identifier hash: FNV-1a of the hash, which is already uniform. */
export function shardOf(hash: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < hash.length; i++) {
    h ^= hash.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `identities-${(h >>> 0) % IDENTITY_SHARDS}`;
}
