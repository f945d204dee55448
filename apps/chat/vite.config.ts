import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The chat is built into dist/ and served by the Seqline server itself (`npm start`), so the
// page, the WebSocket and the HTTP API share one origin and need no CORS. `source` resolves the
// workspace packages to their TypeScript sources: no separate build step for the app.
// eslint-disable-next-line no-restricted-syntax -- Vite reads the config's default export
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  resolve: { conditions: ['source'] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: {
      '/v1': { target: 'http://localhost:8080', ws: true },
    },
  },
})
