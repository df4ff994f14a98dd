import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start their own nats-server processes; keep parallelism modest
    // on 2-core machines so timing-sensitive tests are not starved.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Real processes (nats-server, tsx-started CLIs, chromium) on a busy 2-core CI machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
})
