/**
 * A client host in a network namespace of its own, joined to this host by a
 * veth pair, with nftables rules to shape what it can reach. Needs root, `ip`
 * (iproute2) and `nft` (nftables): without them the tests fail, never skip.
 * Everything made here is removed when the scope closes.
 */
import { execFile, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import type { Scope } from "effect"
import { Effect } from "effect"

export interface Netns {
  readonly name: string
  /** This host's end of the veth pair: where servers listen. */
  readonly hostIp: string
  /** The client's address inside the namespace. */
  readonly nsIp: string
  readonly hostInterface: string
  /**
   * Gives the namespace a new address and takes the old one away (a laptop
   * on a new network), until the scope closes; the new address.
   */
  readonly replaceAddress: Effect.Effect<string, never, Scope.Scope>
  /** Replaces the namespace's nftables rules. */
  readonly firewall: (rules: string) => Effect.Effect<void>
  /** Runs a command inside the namespace; resolves with its output. */
  readonly run: (
    command: string,
    args: ReadonlyArray<string>,
    options?: { readonly env?: Record<string, string>; readonly timeoutMs?: number },
  ) => Effect.Effect<{ readonly code: number; readonly stdout: string; readonly stderr: string }>
}

const sh = (command: string, args: ReadonlyArray<string>, input?: string) =>
  Effect.async<string, Error>((resume) => {
    const child = execFile(command, [...args], { timeout: 10_000 }, (error, stdout, stderr) =>
      resume(error ? Effect.fail(new Error(`${command} ${args.join(" ")}: ${stderr || error.message}`)) : Effect.succeed(stdout)),
    )
    if (input !== undefined) child.stdin!.end(input)
  })

const need = (tool: string, paths: ReadonlyArray<string>) =>
  paths.some((p) => existsSync(p))
    ? Effect.void
    : Effect.dieMessage(`network tests need ${tool} (as root): apt-get install iproute2 nftables (.ci/run installs them)`)

let counter = 0

/** A fresh namespace with a /30 to this host. */
export const create = Effect.gen(function* () {
  if (process.getuid?.() !== 0) {
    return yield* Effect.dieMessage("network tests need root (network namespaces, veth, nftables); CI runs as root")
  }
  yield* need("ip", ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"])
  yield* need("nft", ["/usr/sbin/nft", "/sbin/nft"])
  const id = `${process.pid % 10_000}${(counter++).toString(36)}`
  const name = `mz${id}`
  const host = `mzh${id}`
  const peer = `mzn${id}`
  // A /30 of 10.200.0.0/13 (131,072 of them) from pid and counter: test files
  // running side by side get different ones.
  const block = ((process.pid * 16 + counter) % 131_072) * 4
  const address = (offset: number) => {
    const n = 0x0ac80000 + block + offset
    return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".")
  }
  const hostIp = address(1)
  const nsIp = address(2)
  // Outside 10.200.0.0/13, so no other namespace's /30 holds it.
  const movedIp = [10, 208 + ((block >>> 16) & 0x07), (block >>> 8) & 0xff, (block & 0xff) + 2].join(".")
  yield* Effect.acquireRelease(
    Effect.gen(function* () {
      yield* sh("ip", ["netns", "add", name])
      yield* sh("ip", ["link", "add", host, "type", "veth", "peer", "name", peer])
      yield* sh("ip", ["link", "set", peer, "netns", name])
      yield* sh("ip", ["addr", "add", `${hostIp}/30`, "dev", host])
      yield* sh("ip", ["link", "set", host, "up"])
      yield* sh("ip", ["netns", "exec", name, "ip", "addr", "add", `${nsIp}/30`, "dev", peer])
      yield* sh("ip", ["netns", "exec", name, "ip", "link", "set", peer, "up"])
      yield* sh("ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"])
    }).pipe(Effect.orDie),
    () =>
      Effect.all([sh("ip", ["netns", "del", name]), sh("ip", ["link", "del", host])], { mode: "either" }).pipe(
        Effect.ignore,
      ),
  )
  const netns: Netns = {
    name,
    hostIp,
    nsIp,
    hostInterface: host,
    replaceAddress: Effect.acquireRelease(
      Effect.gen(function* () {
        yield* sh("ip", ["route", "add", `${movedIp}/32`, "dev", host])
        yield* sh("ip", ["netns", "exec", name, "ip", "addr", "add", `${movedIp}/32`, "dev", peer])
        yield* sh("ip", ["netns", "exec", name, "ip", "route", "add", `${hostIp}/32`, "dev", peer, "src", movedIp])
        yield* sh("ip", ["netns", "exec", name, "ip", "addr", "del", `${nsIp}/30`, "dev", peer])
        return movedIp
      }).pipe(Effect.orDie),
      () =>
        Effect.gen(function* () {
          yield* sh("ip", ["netns", "exec", name, "ip", "addr", "add", `${nsIp}/30`, "dev", peer])
          yield* sh("ip", ["netns", "exec", name, "ip", "route", "del", `${hostIp}/32`, "dev", peer])
          yield* sh("ip", ["netns", "exec", name, "ip", "addr", "del", `${movedIp}/32`, "dev", peer])
          yield* sh("ip", ["route", "del", `${movedIp}/32`, "dev", host])
        }).pipe(Effect.ignore),
    ),
    firewall: (rules) =>
      Effect.orDie(
        Effect.zipRight(
          sh("ip", ["netns", "exec", name, "nft", "flush", "ruleset"]),
          sh("ip", ["netns", "exec", name, "nft", "-f", "-"], rules),
        ),
      ),
    run: (command, args, options) =>
      Effect.async((resume) => {
        const child = spawn("ip", ["netns", "exec", name, command, ...args], {
          env: { ...process.env, ...options?.env },
          stdio: ["ignore", "pipe", "pipe"],
        })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c: Buffer) => void (stdout += c))
        child.stderr.on("data", (c: Buffer) => void (stderr += c))
        const timer = setTimeout(() => child.kill("SIGKILL"), options?.timeoutMs ?? 60_000)
        child.once("exit", (code, signal) => {
          clearTimeout(timer)
          resume(Effect.succeed({ code: code ?? (signal !== null ? 128 : 1), stdout, stderr }))
        })
        return Effect.sync(() => child.kill("SIGKILL"))
      }),
  }
  return netns
})

/**
 * Only established traffic and the listed TCP ports to `host` may leave the
 * namespace — and, with `once`, one connection to that port (a join's
 * lookup): every later one (the relay's WebSocket) is dropped without a word,
 * like everything else: silence, not a refusal.
 */
export const onlyTcpPorts = (host: string, ports: ReadonlyArray<number>, once?: number) => `
table inet meetzone {
  chain out {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    ip daddr ${host} tcp dport { ${ports.join(", ")} } accept${once === undefined ? "" : `
    ip daddr ${host} tcp dport ${once} ct state new limit rate 1/hour burst 1 packets accept`}
  }
}
`

/**
 * Random loss of `percent` % of the UDP packets of one DSCP class (one media
 * kind) between the namespace and the listed ports of `host`, both ways
 * (nftables `numgen random`); everything else passes.
 */
export const udpLoss = (host: string, ports: ReadonlyArray<number>, dscp: number, percent: number) => `
table inet meetzone {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr ${host} udp dport { ${ports.join(", ")} } ip dscp ${dscp} numgen random mod 100 < ${percent} drop
  }
  chain in {
    type filter hook input priority 0; policy accept;
    ip saddr ${host} udp sport { ${ports.join(", ")} } ip dscp ${dscp} numgen random mod 100 < ${percent} drop
  }
}
`

/** Everything may leave but UDP to the listed ports. */
export const blockUdpPorts = (host: string, ports: ReadonlyArray<number>) => `
table inet meetzone {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr ${host} udp dport { ${ports.join(", ")} } drop
  }
}
`
