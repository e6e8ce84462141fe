// Creates .dev.vars with fresh random secrets on first start, so a fresh clone serves with no manual step.
import { randomBytes, webcrypto } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

const path = new URL("../.dev.vars", import.meta.url);

if (!existsSync(path)) {
  const adminKey = `sk_${randomBytes(32).toString("base64url")}`;
  const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const jwk = await webcrypto.subtle.exportKey("jwk", pair.privateKey);
  const signingKey = { ...jwk, alg: "ES256", kid: randomBytes(8).toString("hex") };
  const vars = {
    ADMIN_API_KEY: adminKey,
    IDENTITY_PEPPER: randomBytes(32).toString("base64url"),
    SESSION_SIGNING_KEY: JSON.stringify(signingKey),
  };
  const text = Object.entries(vars)
    .map(([name, value]) => `${name}='${value}'`)
    .join("\n");
  // Every secret of secrets.env.example is named, so wrangler sees the Env its types declare.
  const provider = "AUTH_JWKS=''\nAUTH_JWKS_URL=''\nAUTH_ISSUER=''\nAUTH_AUDIENCE=''";
  const note = "# The brand identity provider, for customer tokens (README, Configuration):";
  writeFileSync(path, `${text}\n${note}\n${provider}\n`, { mode: 0o600 });
  console.log(
    `Created .dev.vars with fresh secrets. Your admin API key (shown once):\n\n  ${adminKey}\n`,
  );
}
