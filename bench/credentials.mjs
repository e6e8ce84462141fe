// Fresh secrets for each run, and a stand-in for the brand's identity provider: it signs the
// customer tokens (`sub` = user_id) that `/v1/me` takes, and its public JWKS is a Worker secret.
import { randomBytes, webcrypto } from "node:crypto";

const ISSUER = "https://idp.bench.example";
const AUDIENCE = "recognition-edge";
const ES256 = { name: "ECDSA", namedCurve: "P-256" };

const base64url = (data) => Buffer.from(data).toString("base64url");

async function signingPair(kid) {
  const pair = await webcrypto.subtle.generateKey(ES256, true, ["sign", "verify"]);
  const jwk = (key) => webcrypto.subtle.exportKey("jwk", key);
  return {
    privateKey: pair.privateKey,
    privateJwk: { ...(await jwk(pair.privateKey)), alg: "ES256", kid },
    publicJwk: { ...(await jwk(pair.publicKey)), alg: "ES256", kid, use: "sig" },
  };
}

export async function benchCredentials() {
  const adminKey = `sk_bench_${randomBytes(24).toString("base64url")}`;
  const session = await signingPair("bench-session");
  const idp = await signingPair("bench-idp");

  /** A customer JWT as the brand's identity provider would issue it, valid for an hour. */
  async function customerToken(userId) {
    const header = base64url(JSON.stringify({ alg: "ES256", typ: "JWT", kid: "bench-idp" }));
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: userId, iat: now, exp: now + 3600 };
    const input = `${header}.${base64url(JSON.stringify(claims))}`;
    // WebCrypto's ECDSA signature is already JOSE's r||s form.
    const signature = await webcrypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      idp.privateKey,
      Buffer.from(input),
    );
    return `${input}.${base64url(signature)}`;
  }

  return {
    adminKey,
    customerToken,
    /** Secrets as API.md names them. */
    bindings: {
      ADMIN_API_KEY: adminKey,
      IDENTITY_PEPPER: randomBytes(32).toString("base64url"),
      SESSION_SIGNING_KEY: JSON.stringify(session.privateJwk),
      AUTH_JWKS: JSON.stringify({ keys: [idp.publicJwk] }),
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
    },
  };
}
