// IdentityObject: one per identifier, named `type:HMAC(pepper, value)`. It knows only which
// profile owns the identifier; every change is a compare-and-set, so concurrent claims agree.
import { DurableObject } from "cloudflare:workers";

const OWNER = "owner";

export class IdentityObject extends DurableObject<Env> {
  #owner: string | null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#owner = ctx.storage.kv.get<string>(OWNER) ?? null;
  }

  owner(): string | null {
    return this.#owner;
  }

  /** Sets the owner if there is none; answers the owner either way (a lost race names the winner). */
  claim(profileId: string): string {
    if (this.#owner === null) this.#set(profileId);
    return this.#owner ?? profileId;
  }

  /** Path compression after a merge: points at the survivor if it still points at the loser. */
  repoint(from: string, to: string): string | null {
    if (this.#owner === from) this.#set(to);
    return this.#owner;
  }

  /** Lets go of the identifier if one of `profileIds` owns it (an erased profile and its merged ids). */
  release(...profileIds: string[]): void {
    if (this.#owner === null || !profileIds.includes(this.#owner)) return;
    this.ctx.storage.kv.delete(OWNER);
    this.#owner = null;
  }

  #set(profileId: string): void {
    this.ctx.storage.kv.put(OWNER, profileId);
    this.#owner = profileId;
  }
}
