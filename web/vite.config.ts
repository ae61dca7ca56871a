import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The page: web/ → dist/web (served by `npm run web`). `npm run web:dev` serves it with hot reload
 * and forwards /api to the token endpoint, which runs separately (`npm run web`).
 */
export default defineConfig({
  root: here('.'),
  plugins: [react()],
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    sourcemap: true,
    // One chunk of ~0.9 MB (~260 KB gzipped), most of it livekit-client's WebRTC stack, all needed
    // at the first click; splitting it would only add a round trip.
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: { '/api': `http://127.0.0.1:${process.env.WEB_PORT ?? 3000}` },
  },
});
