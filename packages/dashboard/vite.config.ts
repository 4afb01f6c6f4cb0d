import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// Built to dist/: static files the API serves at / (services/api/src/http/dashboard.ts).
// `npm run dev -w @vmo/dashboard` serves the pages with hot reload and sends the API's paths to a
// running `npm start` (VMO_API, default http://127.0.0.1:3121).
const api = process.env.VMO_API ?? 'http://127.0.0.1:3121';

export default defineConfig({
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: {
      '/v1': { target: api, ws: true, changeOrigin: true },
      '/health': api,
    },
  },
});
