// Secrets the tests run with (vitest.config.ts binds them); `npm start` generates its own.

async function es256(kid: string) {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return {
    privateJwk: {
      ...((await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey),
      alg: "ES256",
      kid,
    },
    publicJwk: {
      ...((await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey),
      alg: "ES256",
      kid,
    },
  };
}

/** Built fresh for every run: the brand's identity provider and the service's own signing key. */
export async function testSecrets() {
  const idp = await es256("idp-1");
  const service = await es256("svc-1");
  return {
    ADMIN_API_KEY: "sk_test_admin_0123456789abcdef0123456789abcdef",
    IDENTITY_PEPPER: "test-pepper-0123456789abcdef0123456789abcdef",
    SESSION_SIGNING_KEY: JSON.stringify(service.privateJwk),
    AUTH_JWKS: JSON.stringify({ keys: [idp.publicJwk] }),
    AUTH_ISSUER: "https://id.brand.test",
    AUTH_AUDIENCE: "recognition-edge-test",
    // The identity provider's private key, for tests to sign customer tokens with.
    TEST_IDP_PRIVATE_JWK: JSON.stringify(idp.privateJwk),
  };
}

export const ADMIN_API_KEY = "sk_test_admin_0123456789abcdef0123456789abcdef";
