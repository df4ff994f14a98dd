/**
 * The load side of bench/sfu.ts, in its own process (so the relay under test
 * has a core to itself): one sender flooding 1,200 B RTP packets at the relay,
 * and N receivers that read and discard. Driven over the fork IPC channel.
 */
import { randomBytes } from "node:crypto"
import type { Socket } from "node:dgram"
import { createSocket } from "node:dgram"
import { writeHeader } from "../src/protocol/rtp.js"
import * as Srtp from "../src/protocol/srtp.js"
import * as Stun from "../src/protocol/stun.js"

type Setup = {
  type: "setup"
  host: string
  port: number
  fanout: number
  /** For the MMR: tokens to bind the sender and each receiver with. */
  tokens?: { sender: string; receivers: ReadonlyArray<string> }
  ssrc: number
  /** Flood SRTP (AEAD AES-256-GCM, the same media sealed: 1,220 B) instead of clear RTP. Made before the flood: the load does no crypto while it runs. */
  srtp?: boolean
}
type Message = Setup | { type: "flood"; ms: number } | { type: "teardown" }

let sender: Socket | undefined
let receivers: Array<Socket> = []
let received = 0
let ssrc = 0
let sealed: Array<Buffer> | undefined

const bound = (socket: Socket, host: string, port: number, token: string) =>
  new Promise<void>((resolve, reject) => {
    const transaction = randomBytes(12)
    const timer = setTimeout(() => reject(new Error("no binding answer")), 2000)
    socket.on("message", function onAnswer(m) {
      const answer = Stun.decode(m)
      if (answer?.transactionId.equals(transaction) !== true) return
      socket.off("message", onAnswer)
      clearTimeout(timer)
      if (answer.type === Stun.Type.BindingSuccess) resolve()
      else reject(new Error("binding refused"))
    })
    socket.send(Stun.bindingRequest(transaction, token), port, host)
  })

const open = () =>
  new Promise<Socket>((resolve) => {
    const s = createSocket("udp4")
    s.bind(0, "127.0.0.1", () => {
      try {
        s.setRecvBufferSize(4 * 1024 * 1024)
        s.setSendBufferSize(4 * 1024 * 1024)
      } catch {
        // capped by rmem_max/wmem_max
      }
      resolve(s)
    })
  })

const setup = async (m: Setup) => {
  ssrc = m.ssrc
  // Both floods send from 4,096 packets made beforehand, so that they differ only in what the packets are
  // (the sender's cost and memory the same): the ratio is the MMR's, not the load generator's.
  const keys = m.srtp === true ? Srtp.deriveSessionKeys(randomBytes(32), ssrc) : undefined
  sealed = Array.from({ length: 4096 }, (_, i) => {
    const clear = Buffer.alloc(1200)
    writeHeader(clear, { payloadType: 96, marker: false, sequence: i, timestamp: i * 3000, ssrc })
    return keys === undefined ? clear : Srtp.protect(keys, clear, 0, 1)
  })
  sender = await open()
  receivers = await Promise.all(Array.from({ length: m.fanout }, open))
  for (const r of receivers) r.on("message", () => void received++)
  if (m.tokens !== undefined) {
    await bound(sender, m.host, m.port, m.tokens.sender)
    await Promise.all(receivers.map((r, i) => bound(r, m.host, m.port, m.tokens!.receivers[i]!)))
  }
  sender.connect(m.port, m.host, () => {
    process.send!({ type: "ready", receivers: receivers.map((r) => r.address()) })
  })
}

const flood = (ms: number) => {
  const packet = Buffer.alloc(1200)
  let sequence = 0
  let sent = 0
  received = 0
  const until = performance.now() + ms
  const burst = () => {
    for (let i = 0; i < 64; i++) {
      if (sealed !== undefined) sender!.send(sealed[sequence++ % sealed.length]!)
      else {
        writeHeader(packet, { payloadType: 96, marker: false, sequence: sequence++ & 0xffff, timestamp: sequence * 3000, ssrc })
        sender!.send(packet)
      }
      sent++
    }
    if (performance.now() < until) setImmediate(burst)
    else setTimeout(() => process.send!({ type: "done", sent, received }), 100)
  }
  burst()
}

process.on("message", (m: Message) => {
  if (m.type === "setup") void setup(m).catch((e) => process.send!({ type: "error", detail: String(e) }))
  else if (m.type === "flood") flood(m.ms)
  else {
    sender?.close()
    for (const r of receivers) r.close()
    process.send!({ type: "closed" })
  }
})
