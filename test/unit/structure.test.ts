/**
 * The tree is the architecture: imports run one way between the layers of
 * src/, every module reads in one sitting, and the root holds configuration
 * only. These checks fail the build when that stops being true.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "../..")
const src = join(root, "src")

const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  )

/** The src/ folder a file is in (its layer): protocol, runtime, transports, actors, topology, apps. */
const layerOf = (file: string) => relative(src, file).split("/")[0]!

/** Relative imports of a module, resolved to files under src/. */
const importsOf = (file: string): ReadonlyArray<string> =>
  [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) =>
    resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts")),
  )

/**
 * What each layer may import besides itself. The protocol knows bytes and
 * schemas only; the kernel knows the protocol; transports implement the
 * kernel's services; actors use all three; topology composes actors.
 */
const mayImport: Record<string, ReadonlyArray<string>> = {
  protocol: [],
  runtime: ["protocol"],
  transports: ["protocol", "runtime"],
  actors: ["protocol", "runtime", "transports"],
  topology: ["protocol", "runtime", "transports", "actors"],
  apps: ["protocol", "runtime", "transports", "actors", "topology", "index.ts"],
}

describe("the source tree", () => {
  const modules = filesUnder(src)

  it("has modules in every layer (the checks below look at real files)", () => {
    expect(new Set(modules.map(layerOf))).toEqual(new Set([...Object.keys(mayImport), "index.ts"]))
  })

  it("imports run one way between layers: nothing in src/protocol imports src/runtime, and so on", () => {
    const backwards = modules.flatMap((file) => {
      const layer = layerOf(file)
      const allowed = mayImport[layer]
      if (allowed === undefined) return [] // src/index.ts: the public entry point gathers every layer
      return importsOf(file)
        .filter((target) => target.startsWith(src))
        .filter((target) => layerOf(target) !== layer && !allowed.includes(layerOf(target)))
        .map((target) => `${relative(root, file)} → ${relative(root, target)}`)
    })
    expect(backwards).toEqual([])
  })

  it("every module reads in one sitting (at most 400 lines)", () => {
    const long = modules
      .map((file) => ({ file: relative(root, file), lines: readFileSync(file, "utf8").split("\n").length }))
      .filter((m) => m.lines > 400)
    expect(long).toEqual([])
  })

  it("the root holds configuration and documentation, no stray code", () => {
    const allowedFiles = new Set([
      "README.md",
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "typedoc.json",
      "vitest.config.ts",
      ".gitignore",
      ".git", // a file in a git worktree
    ])
    // native/: the data path's C source (node-gyp builds it into native/build).
    const allowedDirs = new Set(["src", "native", "test", "bench", "examples", "scripts", "web", ".ci", ".git", "node_modules", "dist", "docs", "test-artifacts", "coverage"])
    const stray = readdirSync(root).filter((name) =>
      statSync(join(root, name)).isDirectory() ? !allowedDirs.has(name) : !allowedFiles.has(name),
    )
    expect(stray).toEqual([])
  })

  it("benchmarks and scripts import nothing from test/", () => {
    const fromTests = ["bench", "scripts"].flatMap((dir) =>
      filesUnder(join(root, dir)).flatMap((file) =>
        importsOf(file)
          .filter((target) => target.startsWith(join(root, "test")))
          .map((target) => `${relative(root, file)} → ${relative(root, target)}`),
      ),
    )
    expect(fromTests).toEqual([])
  })

  it("the README's layout section names every folder of src/", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    const folders = readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `src/${e.name}/`)
    expect(folders.filter((f) => !readme.includes(f))).toEqual([])
  })
})
