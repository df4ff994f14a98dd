/**
 * The benchmarks' C programs (bench/native/*.c), compiled at bench time with
 * the machine's C compiler (`cc -O2`, into a temporary directory), and the
 * load generator driven through its line protocol (load.c's header).
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"

const here = new URL(".", import.meta.url).pathname
let built: string | undefined

/** Compiles relay.c and load.c once per run; a missing compiler is said plainly. */
export const build = (): { readonly relay: string; readonly load: string } => {
  built ??= mkdtempSync(join(tmpdir(), "meetzone-bench-native-"))
  const cc = process.env["CC"] ?? "cc"
  for (const name of ["relay", "load"]) {
    try {
      execFileSync(cc, ["-O2", "-Wall", "-pthread", "-o", join(built, name), join(here, `${name}.c`)], { stdio: ["ignore", "ignore", "pipe"] })
    } catch (e) {
      throw new Error(`cannot compile bench/native/${name}.c with ${cc} (apt-get install gcc): ${(e as Error).message}`)
    }
  }
  return { relay: join(built, "relay"), load: join(built, "load") }
}

/** Lines of a child's stdout, one at a time. */
const linesOf = (stream: NodeJS.ReadableStream) => {
  const queue: Array<string> = []
  const waiting: Array<(line: string) => void> = []
  createInterface({ input: stream }).on("line", (line) => {
    const w = waiting.shift()
    if (w !== undefined) w(line)
    else queue.push(line)
  })
  return (timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const line = queue.shift()
      if (line !== undefined) return resolve(line)
      const timer = setTimeout(() => reject(new Error("no line from the native program")), timeoutMs)
      waiting.push((l) => {
        clearTimeout(timer)
        resolve(l)
      })
    })
}

/** The C reference relay, forwarding to these receivers' ports until stopped. */
export const startRelay = async (binary: string, audioPorts: ReadonlyArray<number>, videoPorts: ReadonlyArray<number>) => {
  const child = spawn(binary, [audioPorts.join(",") || "0", videoPorts.join(",") || "0"], { stdio: ["ignore", "pipe", "inherit"] })
  const next = linesOf(child.stdout)
  const port = Number((await next()).split(" ")[1])
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGTERM")
      const [, forwarded] = (await next(5000)).split(" ")
      return Number(forwarded)
    },
  }
}

/** @category models */
export interface LoadPlan {
  readonly fanout: number
  /** Offered by the one sender, per kind. */
  readonly audioPps: number
  readonly videoPps: number
  readonly seconds: number
  readonly ssrcs: { readonly audio: number; readonly video: number }
}

/** @category models */
export interface LoadResult {
  readonly sent: { readonly audio: number; readonly video: number }
  /** Per receiver: RTP packets delivered to its audio and video sockets. */
  readonly received: ReadonlyArray<{ readonly audio: number; readonly video: number }>
  /** Of what the relay should have delivered (sent × receivers), the share that did not arrive. */
  readonly loss: number
  readonly deliveredPerSecond: number
}

/** The sockets' ports, in load.c's order: the sender's audio and video, then each receiver's. */
export interface LoadPorts {
  readonly sender: { readonly audio: number; readonly video: number }
  readonly receivers: ReadonlyArray<{ readonly audio: number; readonly video: number }>
}

/**
 * One run of the load generator: `setup` is told its ports and starts (or
 * readies) the relay under test, answering where to send and which STUN
 * binding requests to send first (socket index → bytes).
 */
export const runLoad = async (
  binary: string,
  plan: LoadPlan,
  setup: (ports: LoadPorts) => Promise<{ readonly port: number; readonly binds?: ReadonlyMap<number, Uint8Array> }>,
): Promise<LoadResult> => {
  const child = spawn(binary, [plan.fanout, plan.audioPps, plan.videoPps, plan.seconds, plan.ssrcs.audio, plan.ssrcs.video].map(String), { stdio: ["pipe", "pipe", "inherit"] })
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
  try {
    const next = linesOf(child.stdout)
    const ports = (await next()).split(" ").slice(1).map(Number)
    const receivers = Array.from({ length: plan.fanout }, (_, i) => ({ audio: ports[2 + 2 * i]!, video: ports[3 + 2 * i]! }))
    const target = await setup({ sender: { audio: ports[0]!, video: ports[1]! }, receivers })
    child.stdin.write(`target ${target.port}\n`)
    for (const [index, request] of target.binds ?? []) child.stdin.write(`bind ${index} ${Buffer.from(request).toString("hex")}\n`)
    child.stdin.write("go\n")
    const line = await next(plan.seconds * 1000 + 120_000)
    const n = line.split(" ").slice(1).map(Number)
    const sent = { audio: n[0]!, video: n[1]! }
    const received = Array.from({ length: plan.fanout }, (_, i) => ({ audio: n[2 + 2 * i]!, video: n[3 + 2 * i]! }))
    const expected = (sent.audio + sent.video) * plan.fanout
    const delivered = received.reduce((sum, r) => sum + r.audio + r.video, 0)
    return { sent, received, loss: expected === 0 ? 0 : Math.max(0, 1 - delivered / expected), deliveredPerSecond: delivered / plan.seconds }
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL")
    await exited
  }
}
