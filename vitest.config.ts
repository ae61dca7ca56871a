import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // .tsx: the page's component tests (test/web/), each naming its DOM environment in a comment.
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // One file at a time: the suite runs real-time pipelines, a real worker with its job and
    // inference processes, Chromium and a WebRTC test server, on a 2-core CI machine. In parallel
    // they starve each other's timers and measure the machine, not the code.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
