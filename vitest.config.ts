import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { testSecrets } from "./test/secrets.ts";

export default defineConfig(async () => ({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: await testSecrets() },
          }),
        ],
        test: { name: "worker", include: ["test/**/*.test.ts", "src/**/*.test.ts"] },
      },
      // The benchmark harness's own rules run in Node, where the harness runs.
      { test: { name: "bench", include: ["bench/**/*.test.mjs"], environment: "node" } },
    ],
  },
}));
