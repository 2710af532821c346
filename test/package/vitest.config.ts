import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

// `npm run test:package`, a step of .ci/run of its own: tests that build and pack the package and install it into a
// fresh app (about two minutes), kept out of `npm test`.
export default defineConfig({
  test: {
    ...base.test,
    root: fileURLToPath(new URL('../../', import.meta.url)),
    include: ['test/package/**/*.test.ts'],
  },
});
