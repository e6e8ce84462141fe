// IdentityObject: one shard of the identifier index (identity/shards.ts), named by shard number.
// It knows only which profile owns each identifier hash it holds; every change is a
// compare-and-set, so concurrent claims agree. Sharded rather than one object per identifier: a
// new person then writes into a few warm objects instead of opening one database per identifier.
import { DurableObject } from "cloudflare:workers";

export class IdentityObject extends DurableObject<Env> {
  owner(hash: string): string | null {
    return this.ctx.storage.kv.get<string>(hash) ?? null;
  }

  /** Sets the owner if there is none; answers the owner either way (a lost race names the winner). */
  claim(hash: string, profileId: string): string {
    const owner = this.owner(hash);
    if (owner !== null) return owner;
    this.ctx.storage.kv.put(hash, profileId);
    return profileId;
  }

  /** Path compression after a merge: points at the survivor if it still points at the loser. */
  repoint(hash: string, from: string, to: string): string | null {
    const owner = this.owner(hash);
    if (owner !== from) return owner;
    this.ctx.storage.kv.put(hash, to);
    return to;
  }

  /** Lets go of the identifier if one of `profileIds` owns it (an erased profile and its merged ids). */
  release(hash: string, ...profileIds: string[]): void {
    const owner = this.owner(hash);
    if (owner !== null && profileIds.includes(owner)) this.ctx.storage.kv.delete(hash);
  }
}
