// One build command (`npm run build`) writes web/dist, which deskd compiles into its binary.
// Hashed file names let the server cache /assets/* for a year; no source maps (size, and the
// sources are in the repository).
import { defineConfig } from 'vite';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: process.env.DESKD_WEB_OUT || 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
  },
});
