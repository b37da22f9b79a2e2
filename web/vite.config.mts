// The builder UI: Preact + TypeScript, bundled by Vite into web/dist, which the platform Worker
// serves as static assets (see docs/adr/0014-builder-ui-stack.md).
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline scripts or styles: the platform's CSP forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  resolve: {
    alias: { react: "preact/compat", "react-dom": "preact/compat" },
  },
});
