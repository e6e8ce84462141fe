// Secrets the tests run with (vitest.config.ts binds them); `npm start` generates its own.
export const testSecrets = {
  ADMIN_API_KEY: "sk_test_admin_0123456789abcdef0123456789abcdef",
  IDENTITY_PEPPER: "test-pepper-0123456789abcdef0123456789abcdef",
};
