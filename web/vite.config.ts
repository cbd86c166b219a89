import { resolve } from "node:path";
import preact from "@preact/preset-vite";
import { defineConfig } from "vitest/config";

// One project, two pages: /h5/ (citizens, checkpoint staff; mobile) and /console/ (venue
// managers, officials; desktop). Both are served from web/dist by the local stack and S3.
export default defineConfig({
  base: "./",
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or styles: the pages run under script-src 'self' and style-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: { chunkFileNames: "assets/shared-[hash].js", assetFileNames: "assets/[name]-[hash][extname]" },
      input: {
        h5: resolve(import.meta.dirname, "h5/index.html"),
        console: resolve(import.meta.dirname, "console/index.html"),
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
