// npm install/ci: builds the native data path (native/binding.gyp → native/build/Release/meetzone_udp.node)
// with npm's own node-gyp against this Node's installed headers when it has them (no download).
// A failed build is not a failed install: the MMR then forwards on the pure-TypeScript path and says so.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"

// --if-missing (npm test): build only when npm ci could not (the compilers came later).
if (process.argv.includes("--if-missing") && existsSync(new URL("../native/build/Release/meetzone_udp.node", import.meta.url))) process.exit(0)
if (process.platform !== "linux" || process.env.MEETZONE_NATIVE === "0") {
  console.log("meetzone: native data path skipped (Linux only, or MEETZONE_NATIVE=0); the pure-TypeScript path is used")
  process.exit(0)
}
// npm tells lifecycle scripts where its node-gyp is; outside one, npm's own copy beside this Node.
const bundled = join(dirname(dirname(process.execPath)), "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js")
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined)
const prefix = dirname(dirname(process.execPath))
const args = ["rebuild", "--directory", new URL("../native", import.meta.url).pathname, ...(existsSync(join(prefix, "include/node/node_api.h")) ? [`--nodedir=${prefix}`] : [])]
const run = gyp !== undefined && existsSync(gyp) ? spawnSync(process.execPath, [gyp, ...args], { stdio: "inherit" }) : spawnSync("node-gyp", args, { stdio: "inherit" })
if (run.status !== 0) {
  console.log(`meetzone: native data path not built (${run.error?.message ?? `node-gyp exited ${run.status}`}); the pure-TypeScript path is used`)
}
