// Erasure's second half, once a profile's own storage is gone: nothing may lead to the person.
import { type Erased, profileStub } from "../profile/protocol";
import { shardOf } from "./shards";

/**
 * Lets every identifier the erased profile held go from the index (where one of `owners` holds
 * it), and turns every id merged into it into one that answers missing.
 */
export async function unlinkErased(env: Env, erased: Erased, owners: readonly string[]) {
  await Promise.all([
    ...erased.identifierHashes.map((hash) =>
      env.IDENTITIES.getByName(shardOf(hash)).release(hash, ...owners),
    ),
    ...erased.mergedIds.map((id) => profileStub(env, id).eraseForward()),
  ]);
}
