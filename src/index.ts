// Worker entry: the HTTP app and the Durable Object classes.
import { buildApp } from "./app";

export { ConfigObject } from "./config/config-object";
export { IdentityObject } from "./identity/identity-object";
export { ProfileObject } from "./profile/profile-object";

export default buildApp();
