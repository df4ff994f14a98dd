/**
 * A client that streams a WAV file's audio as RTP (L16, 20 ms per packet,
 * paced in real time) into a meeting, and another that writes what it
 * receives to a WAV file: a team feeding real media through the library
 * instead of the synthetic streams.
 *
 *   npx tsx examples/wav-audio.ts input.wav output.wav
 *   npx tsx examples/wav-audio.ts            # makes a 1 s 440 Hz tone and plays it through
 */
import { readFile, writeFile } from "node:fs/promises"
import { Duration, Effect, Layer, Logger, LogLevel, Schedule, Stream } from "effect"
import { Client, Connector, ControlPlane, Lookup, Protocol, Topology } from "../src/index.js"

/** 16-bit PCM, mono. */
export interface Pcm {
  readonly sampleRate: number
  readonly samples: Buffer
}

/** The PCM of a canonical 16-bit mono WAV file. */
export const parseWav = (file: Buffer): Pcm => {
  if (file.toString("ascii", 0, 4) !== "RIFF" || file.toString("ascii", 8, 12) !== "WAVE") throw new Error("not a WAV file")
  let at = 12
  let sampleRate = 0
  while (at + 8 <= file.length) {
    const id = file.toString("ascii", at, at + 4)
    const size = file.readUInt32LE(at + 4)
    if (id === "fmt ") {
      const [format, channels, bits] = [file.readUInt16LE(at + 8), file.readUInt16LE(at + 10), file.readUInt16LE(at + 22)]
      if (format !== 1 || channels !== 1 || bits !== 16) throw new Error("only 16-bit mono PCM WAV is supported")
      sampleRate = file.readUInt32LE(at + 12)
    }
    if (id === "data") return { sampleRate, samples: file.subarray(at + 8, at + 8 + size) }
    at += 8 + size + (size % 2)
  }
  throw new Error("WAV file without data")
}

/** A canonical 16-bit mono WAV file. */
export const wavFile = ({ sampleRate, samples }: Pcm): Buffer => {
  const header = Buffer.alloc(44)
  header.write("RIFF", 0, "ascii")
  header.writeUInt32LE(36 + samples.length, 4)
  header.write("WAVEfmt ", 8, "ascii")
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(1, 22)
  header.writeUInt32LE(sampleRate, 24)
  header.writeUInt32LE(sampleRate * 2, 28)
  header.writeUInt16LE(2, 32)
  header.writeUInt16LE(16, 34)
  header.write("data", 36, "ascii")
  header.writeUInt32LE(samples.length, 40)
  return Buffer.concat([header, samples])
}

/** RTP payload type for L16 at this rate (dynamic range; the MMR forwards any). */
const L16 = 120
const PACKET_MS = 20

/** The PCM as RTP packets of 20 ms each (big-endian samples, as L16 wants), paced in real time. */
export const rtpPackets = (pcm: Pcm, ssrc: number): Stream.Stream<Uint8Array> => {
  const samplesPerPacket = (pcm.sampleRate * PACKET_MS) / 1000
  const packets = Math.ceil(pcm.samples.length / 2 / samplesPerPacket)
  return Stream.range(0, packets - 1).pipe(
    Stream.map((i) => {
      const chunk = pcm.samples.subarray(i * samplesPerPacket * 2, (i + 1) * samplesPerPacket * 2)
      const packet = Buffer.alloc(Protocol.Rtp.HEADER_SIZE + chunk.length)
      Protocol.Rtp.writeHeader(packet, { payloadType: L16, marker: i === 0, sequence: i & 0xffff, timestamp: i * samplesPerPacket, ssrc })
      for (let s = 0; s < chunk.length; s += 2) packet.writeInt16BE(chunk.readInt16LE(s), Protocol.Rtp.HEADER_SIZE + s)
      return packet as Uint8Array
    }),
    Stream.schedule(Schedule.spaced(Duration.millis(PACKET_MS))),
  )
}

/** Received L16 packets back to PCM, in sequence order (a lost packet is silence). */
export const pcmOf = (packets: ReadonlyArray<Uint8Array>, sampleRate: number): Pcm => {
  const bySequence = new Map(packets.map((p) => [Protocol.Rtp.sequenceNumber(p), p]))
  const last = Math.max(...bySequence.keys())
  const samplesPerPacket = (sampleRate * PACKET_MS) / 1000
  const out = Buffer.alloc((last + 1) * samplesPerPacket * 2)
  for (const [sequence, packet] of bySequence) {
    for (let s = Protocol.Rtp.HEADER_SIZE; s + 1 < packet.length; s += 2) {
      out.writeInt16LE(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).readInt16BE(s), sequence * samplesPerPacket * 2 + s - Protocol.Rtp.HEADER_SIZE)
    }
  }
  const lastPacket = bySequence.get(last)!
  return { sampleRate, samples: out.subarray(0, last * samplesPerPacket * 2 + lastPacket.length - Protocol.Rtp.HEADER_SIZE) }
}

/** A tone, for trying it without a file. */
export const tone = (seconds: number, hz = 440, sampleRate = 8000): Pcm => {
  const samples = Buffer.alloc(seconds * sampleRate * 2)
  for (let i = 0; i < seconds * sampleRate; i++) samples.writeInt16LE(Math.round(12000 * Math.sin((2 * Math.PI * hz * i) / sampleRate)), i * 2)
  return { sampleRate, samples }
}

/** Ada plays `input` into a meeting; Bob writes what he hears to `output`. Returns what Bob heard. */
export const playThrough = (input: Pcm) =>
  Effect.gen(function* () {
    const topology = yield* Topology.Running
    const web = topology.web[0]!.url
    const tls = { ca: topology.caCert! }
    const meeting = yield* Lookup.createMeeting({ web, tls, proxy: "none" })
    const join = (name: string, media: Client.MediaOptions) => Client.join({ web, meeting: meeting.id, name, tls, proxy: "none", media })
    const bob = yield* join("Bob", { kinds: ["audio"], synthetic: false })
    const expected = Math.ceil(input.samples.length / 2 / ((input.sampleRate * PACKET_MS) / 1000))
    // Listening before Ada starts: nothing she sends is missed.
    const heard = yield* bob.media!.receive("audio").pipe(
      Stream.take(expected),
      Stream.runCollect,
      Effect.timeout(Duration.millis(expected * PACKET_MS + 5000)),
      Effect.fork,
    )
    yield* join("Ada", { kinds: ["audio"], sources: { audio: (ssrc) => rtpPackets(input, ssrc) } })
    const packets = [...(yield* heard.await.pipe(Effect.flatten, Effect.orElseSucceed(() => [] as Array<Uint8Array>)))]
    return pcmOf(packets, input.sampleRate)
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(Topology.layer(Topology.example), Connector.shared).pipe(Layer.provideMerge(ControlPlane.memoryLayer))),
    Logger.withMinimumLogLevel(LogLevel.Warning),
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const [inputPath, outputPath = "received.wav"] = process.argv.slice(2)
  const main = Effect.gen(function* () {
    const input = inputPath === undefined ? tone(1) : parseWav(yield* Effect.promise(() => readFile(inputPath)))
    const output = yield* playThrough(input)
    yield* Effect.promise(() => writeFile(outputPath, wavFile(output)))
    console.log(`sent ${input.samples.length / 2} samples, received ${output.samples.length / 2}; wrote ${outputPath}`)
  })
  Effect.runPromise(main).catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
