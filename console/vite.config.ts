// The console is served by read-api under /console/ (read-api/src/console.rs embeds
// dist/), so every built URL starts with /console/. Content-hashed file names under
// assets/ let read-api cache them for a year.
//
// `npm run dev` serves the sources with hot reload and sends /v1/ to a running read-api
// (READ_API_URL, default the local stack's http://127.0.0.1:8082).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // One CSS and one JS file: the page is small, and nothing is inlined as data: URLs
    // beyond what the Content-Security-Policy allows (img-src data:).
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      "/v1/": process.env.READ_API_URL ?? "http://127.0.0.1:8082",
    },
  },
});
