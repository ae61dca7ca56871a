import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // .tsx: the page's component tests (test/web/), each naming its DOM environment in a comment.
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Tests start real servers, rtc-node and espeak-ng; on a 2-core CI machine one file at a time
    // per core keeps timings honest.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
