// After tsc: the CLI as one ES module (esbuild), so that an entrypoint starts by reading one file
// instead of resolving and compiling ~1,000 (effect's modules, @effect/*, nats.js): an actor is up
// in about 1 s instead of 2.3 s on this 2-core machine (npm run bench:startup). Native and WebAssembly packages,
// and ws's optional native helpers, stay outside and load from node_modules as before.
// The bundle sits three folders deep (dist/bundle/apps/) like the modules it replaces, so the
// paths they find web/ and native/ by (import.meta.url, ../../../) still lead to the package root.
import { build } from "esbuild"

await build({
  entryPoints: { meetzone: "dist/apps/meetzone.js" },
  outdir: "dist/bundle/apps",
  outExtension: { ".js": ".mjs" },
  // The actors' commands and the rest are chunks of their own, loaded on demand (meetzone.ts).
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["sockopt", "opusscript", "playwright-core", "ws", "bufferutil", "utf-8-validate"],
  // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __meetzoneRequire } from 'node:module'; const require = __meetzoneRequire(import.meta.url);" },
  logLevel: "warning",
})
