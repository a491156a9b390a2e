import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The staff console (issue #18): React + Mantine, built into dist/console and served by the
 * server at /console (src/console). Vite 8 transforms TSX itself (oxc, React's automatic JSX
 * runtime): no React plugin, whose Babel would meet jest's. `npm run build` runs this after tsc.
 */
const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // No inline script anywhere (the server's CSP has script-src 'self'): modules only, no data: URLs for small assets.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    sourcemap: true,
    rolldownOptions: {
      // Mantine marks its modules "use client" (for React Server Components); a client-only bundle ignores it.
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
  server: {
    // `npx vite --config console/vite.config.ts` during development: the API is the server on :8080.
    proxy: Object.fromEntries(['/fhir', '/copy-requests', '/disputes', '/access', '/audit', '/governance', '/console/config.json', '/console/api'].map((p) => [p, 'http://127.0.0.1:8080'])),
  },
});
