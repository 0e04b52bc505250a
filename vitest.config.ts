import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["server/**/*.test.ts", "labs/**/*.test.ts", "src/**/*.test.ts", "tests/**/*.test.ts", "nix/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Real ptys, containerd and a browser share 2 cores: files run one at a time.
    fileParallelism: false,
    pool: "forks",
  },
});
