import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:package`: the package as a user gets it (packed, installed into a fresh app, started) and the code
// of README.md and docs/*.md type-checked. A separate step of .ci/run: each file runs tsc over the whole source or
// installs a package, a minute or two on a loaded machine. (Not mergeConfig: it would append to `include`.)
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/package/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
