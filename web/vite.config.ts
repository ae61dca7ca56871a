import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * gaussian-splat-renderer-for-lam 0.0.8 (the splat avatar) imports a WebGPU debugging script from
 * greggman.github.io at its top. The page would fetch and run third-party code from that site, and
 * without it (offline, blocked) the renderer would not load at all: it is built as an empty module.
 */
const LAM_REMOTE_IMPORT = 'https://greggman.github.io/webgpu-avoid-redundant-state-setting/webgpu-check-redundant-state-setting.js';
const noRemoteImport: Plugin = {
  name: 'no-remote-import',
  enforce: 'pre',
  resolveId: (id) => (id === LAM_REMOTE_IMPORT ? '\0no-remote-import' : undefined),
  load: (id) => (id === '\0no-remote-import' ? 'export {};' : undefined),
};

/**
 * The page: web/ → dist/web (served by `npm run web`). `npm run web:dev` serves it with hot reload
 * and forwards /api to the token endpoint, which runs separately (`npm run web`).
 */
export default defineConfig({
  root: here('.'),
  plugins: [react(), noRemoteImport],
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
