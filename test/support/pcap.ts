/**
 * A packet capture for tests: tcpdump on loopback writing a pcap file
 * (started and stopped by PID), and the UDP datagrams read back out of it.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { Effect } from "effect"

export interface Datagram {
  readonly src: number
  readonly dst: number
  /** The IP header's TOS byte (DSCP << 2 | ECN). */
  readonly tos: number
  readonly payload: Buffer
}

/** tcpdump on `lo` for UDP, into `file`, until the scope closes (then flushed and stopped). A 16 MiB capture buffer: with the default 2 MiB a starved tcpdump missed datagrams of a burst. */
export const capture = (file: string, filter: ReadonlyArray<string> = ["udp"]) =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof spawn>, Error>((resume) => {
      const p = spawn("tcpdump", ["-i", "lo", "-n", "-U", "--immediate-mode", "-B", "16384", "-s", "0", "-w", file, ...filter], { stdio: ["ignore", "ignore", "pipe"] })
      let said = ""
      const timer = setTimeout(() => resume(Effect.fail(new Error(`tcpdump did not start: ${said}`))), 5000)
      p.stderr!.on("data", (d: Buffer) => {
        said += d.toString()
        if (said.includes("listening on")) {
          clearTimeout(timer)
          resume(Effect.succeed(p))
        }
      })
      p.on("error", (e) => {
        clearTimeout(timer)
        resume(Effect.fail(new Error(`tcpdump: ${e.message} (apt-get install tcpdump; .ci/run installs it)`)))
      })
      p.on("exit", (code) => {
        clearTimeout(timer)
        resume(Effect.fail(new Error(`tcpdump exited (${code}): ${said}`)))
      })
    }),
    (p) =>
      // tcpdump writes a datagram a moment after the kernel hands it over: let the last ones in before stopping it.
      Effect.sleep("300 millis").pipe(
        Effect.zipRight(
          Effect.async<void>((resume) => {
            if (p.exitCode !== null) return resume(Effect.void)
            p.once("exit", () => resume(Effect.void))
            p.kill("SIGTERM")
          }),
        ),
      ),
  )

/** Bytes before the IP header, per pcap link type. */
const linkHeader: Record<number, number> = { 0: 4, 1: 14, 113: 16, 276: 20 }

/** The IPv4 UDP datagrams in a pcap file. */
export const udpDatagrams = (file: string): ReadonlyArray<Datagram> => {
  const bytes = readFileSync(file)
  if (bytes.length < 24) return []
  const little = bytes.readUInt32LE(0) === 0xa1b2c3d4 || bytes.readUInt32LE(0) === 0xa1b23c4d
  const u32 = (at: number) => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at))
  const skip = linkHeader[u32(20)]
  if (skip === undefined) throw new Error(`pcap link type ${u32(20)} not understood`)
  const out: Array<Datagram> = []
  for (let at = 24; at + 16 <= bytes.length; ) {
    const captured = u32(at + 8)
    const frame = bytes.subarray(at + 16, at + 16 + captured)
    at += 16 + captured
    const ip = frame.subarray(skip)
    if (ip.length < 20 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue
    const udp = ip.subarray((ip[0]! & 0x0f) * 4)
    if (udp.length < 8) continue
    out.push({ src: udp.readUInt16BE(0), dst: udp.readUInt16BE(2), tos: ip[1]!, payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))) })
  }
  return out
}
