// @ts-check
/**
 * Real media in the browser with WebCodecs: the microphone encoded as Opus
 * and the camera as VP8, sent as RTP; what others send decoded and played
 * (audio through Web Audio, video onto a canvas per participant).
 *
 * Encoders never queue: a frame arriving while the encoder is behind is
 * dropped (counted), as a real-time sender must.
 */
import { clockRate, encodeRtp, packetizeVp8, parseRtp, payloadType, SourceStats, Vp8Assembler } from "./rtp.js"

const KEY_FRAME_EVERY = 15 // frames: a late joiner sees video within a second at 15 fps

/** @param {number} n */
const u32 = (n) => n >>> 0

/**
 * @typedef {{ packets: number, bytes: number, frames: number, dropped: number, errors: number }} SendCounters
 */

/**
 * One outgoing RTP source: a random first sequence number and timestamp
 * (RFC 3550 §5.1), timestamps on the kind's clock, and what went out counted.
 *
 * @param {number} pt payload type
 * @param {number} rate RTP clock rate
 * @param {number} ssrc
 * @param {(packet: Uint8Array) => boolean} send
 * @param {SendCounters} counters
 */
const rtpSource = (pt, rate, ssrc, send, counters) => {
  let sequence = Math.floor(Math.random() * 0xffff)
  const base = u32(Math.random() * 0xffffffff)
  return {
    /** @param {number} micros a chunk's timestamp */
    timestampOf: (micros) => u32(base + Math.round((micros * rate) / 1e6)),
    /** @param {boolean} marker @param {number} timestamp @param {Uint8Array} payload @param {Uint8Array} [prefix] */
    send: (marker, timestamp, payload, prefix) => {
      const packet = encodeRtp({ payloadType: pt, marker, sequence: sequence++ & 0xffff, timestamp, ssrc }, payload, prefix)
      if (send(packet)) {
        counters.packets++
        counters.bytes += packet.length
      }
    },
  }
}

/**
 * Feeds `track`'s frames to `encoder` until stopped. The encoder is
 * configured from the first frame; a frame that finds it `maxQueue` behind is
 * dropped (counted), never queued.
 *
 * @template {AudioData | VideoFrame} F
 * @param {MediaStreamTrack} track
 * @param {AudioEncoder | VideoEncoder} encoder
 * @param {number} maxQueue
 * @param {SendCounters} counters
 * @param {(frame: F) => void} configure
 * @param {(frame: F) => void} encode
 * @returns {() => void} stop
 */
const capture = (track, encoder, maxQueue, counters, configure, encode) => {
  let stopped = false
  /** @type {ReadableStreamDefaultReader<F>} */
  const reader = new MediaStreamTrackProcessor({ track }).readable.getReader()
  void (async () => {
    for (;;) {
      const { value: frame, done } = await reader.read()
      if (done || stopped) {
        frame?.close()
        break
      }
      if (encoder.state === "unconfigured") configure(frame)
      if (encoder.state === "configured" && encoder.encodeQueueSize < maxQueue) {
        encode(frame)
        counters.frames++
      } else counters.dropped++
      frame.close()
    }
  })()
  return () => {
    stopped = true
    void reader.cancel()
    if (encoder.state !== "closed") encoder.close()
  }
}

/**
 * Captures `track` (audio) and sends Opus in RTP through `send` until stopped.
 *
 * @param {MediaStreamTrack} track
 * @param {number} ssrc
 * @param {(packet: Uint8Array) => boolean} send
 * @param {SendCounters} counters
 * @returns {() => void} stop
 */
export const sendAudio = (track, ssrc, send, counters) => {
  const source = rtpSource(payloadType.audio, clockRate.audio, ssrc, send, counters)
  const encoder = new AudioEncoder({
    output: (chunk) => {
      const payload = new Uint8Array(chunk.byteLength)
      chunk.copyTo(payload)
      source.send(false, source.timestampOf(chunk.timestamp), payload)
    },
    error: () => void counters.errors++,
  })
  return capture(
    track,
    encoder,
    4,
    counters,
    // Opus takes what the device gives; the RTP clock stays 48 kHz (RFC 7587).
    (/** @type {AudioData} */ data) =>
      encoder.configure({ codec: "opus", sampleRate: data.sampleRate, numberOfChannels: data.numberOfChannels, bitrate: 32_000 }),
    (/** @type {AudioData} */ data) => encoder.encode(data),
  )
}

/**
 * Captures `track` (video) and sends VP8 in RTP through `send` until stopped.
 *
 * @param {MediaStreamTrack} track
 * @param {number} ssrc
 * @param {(packet: Uint8Array) => boolean} send
 * @param {SendCounters} counters
 * @returns {() => void} stop
 */
export const sendVideo = (track, ssrc, send, counters) => {
  const source = rtpSource(payloadType.video, clockRate.video, ssrc, send, counters)
  let frameNo = 0
  const encoder = new VideoEncoder({
    output: (chunk) => {
      const frame = new Uint8Array(chunk.byteLength)
      chunk.copyTo(frame)
      const timestamp = source.timestampOf(chunk.timestamp)
      for (const part of packetizeVp8(frame)) source.send(part.last, timestamp, part.payload, part.descriptor)
    },
    error: () => void counters.errors++,
  })
  return capture(
    track,
    encoder,
    2,
    counters,
    (/** @type {VideoFrame} */ frame) =>
      encoder.configure({ codec: "vp8", width: frame.displayWidth, height: frame.displayHeight, bitrate: 500_000, framerate: 15, latencyMode: "realtime" }),
    (/** @type {VideoFrame} */ frame) => encoder.encode(frame, { keyFrame: frameNo++ % KEY_FRAME_EVERY === 0 }),
  )
}

/**
 * What one remote source (a participant's stream of one kind) gave us.
 */
export class RemoteSource {
  /** @type {AudioDecoder | VideoDecoder | undefined} */
  decoder
  decoded = 0
  decodeErrors = 0
  /** Packets not given to a decoder: another payload type, or a source that never decodes (e.g. a headless client's synthetic media). */
  foreign = 0
  failuresInARow = 0
  assembler = new Vp8Assembler()
  nextPlay = 0

  /**
   * @param {"audio" | "video"} kind
   * @param {number} ssrc
   * @param {{ audio?: AudioContext, canvas?: () => HTMLCanvasElement }} sinks
   */
  constructor(kind, ssrc, sinks) {
    this.kind = kind
    this.ssrc = ssrc
    this.sinks = sinks
    this.stats = new SourceStats(clockRate[kind])
  }

  /** @param {import("./rtp.js").RtpPacket} p @param {number} bytes */
  receive(p, bytes) {
    this.stats.update(p, bytes, performance.now())
    // Five failures without one good frame: this source is not sending what we can play.
    if (p.payloadType !== payloadType[this.kind] || this.failuresInARow >= 5) {
      this.foreign++
      return
    }
    if (this.kind === "audio") return this.#decodeAudio(p)
    const frame = this.assembler.push(p)
    if (frame !== undefined) this.#decodeVideo(frame)
  }

  /** A decoder that failed is closed by WebCodecs: count it and start a fresh one at the next packet (video: next key frame). */
  #failed() {
    this.decodeErrors++
    this.failuresInARow++
    this.decoder = undefined
    this.assembler.needKey = true
  }

  /** @param {import("./rtp.js").RtpPacket} p */
  #decodeAudio(p) {
    const context = this.sinks.audio
    if (context === undefined || p.payload.length === 0) return
    if (this.decoder === undefined) {
      const decoder = new AudioDecoder({
        output: (data) => {
          this.decoded++
          this.failuresInARow = 0
          this.#play(context, data)
        },
        error: () => this.#failed(),
      })
      decoder.configure({ codec: "opus", sampleRate: 48_000, numberOfChannels: 1 })
      this.decoder = decoder
    }
    const decoder = /** @type {AudioDecoder} */ (this.decoder)
    if (decoder.state !== "configured" || decoder.decodeQueueSize > 10) return
    try {
      decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: (p.timestamp * 1e6) / clockRate.audio, data: p.payload }))
    } catch {
      this.#failed()
    }
  }

  /** @param {AudioContext} context @param {AudioData} data */
  #play(context, data) {
    try {
      const buffer = context.createBuffer(1, data.numberOfFrames, data.sampleRate)
      data.copyTo(buffer.getChannelData(0), { planeIndex: 0, format: "f32-planar" })
      const node = context.createBufferSource()
      node.buffer = buffer
      node.connect(context.destination)
      // A small playout buffer; after a gap, start again just ahead of now.
      const now = context.currentTime
      if (this.nextPlay < now + 0.02 || this.nextPlay > now + 0.5) this.nextPlay = now + 0.08
      node.start(this.nextPlay)
      this.nextPlay += buffer.duration
    } finally {
      data.close()
    }
  }

  /** @param {{ data: Uint8Array, key: boolean, timestamp: number }} frame */
  #decodeVideo(frame) {
    const canvas = this.sinks.canvas
    if (canvas === undefined) return
    if (this.decoder === undefined) {
      if (!frame.key) return
      const decoder = new VideoDecoder({
        output: (image) => {
          this.decoded++
          this.failuresInARow = 0
          const c = canvas()
          if (c.width !== image.displayWidth) c.width = image.displayWidth
          if (c.height !== image.displayHeight) c.height = image.displayHeight
          c.getContext("2d")?.drawImage(image, 0, 0)
          image.close()
        },
        error: () => this.#failed(),
      })
      decoder.configure({ codec: "vp8" })
      this.decoder = decoder
    }
    const decoder = /** @type {VideoDecoder} */ (this.decoder)
    if (decoder.state !== "configured") return
    if (decoder.decodeQueueSize > 5 && !frame.key) return
    try {
      decoder.decode(
        new EncodedVideoChunk({ type: frame.key ? "key" : "delta", timestamp: (frame.timestamp * 1e6) / clockRate.video, data: frame.data }),
      )
    } catch {
      this.#failed()
    }
  }

  close() {
    if (this.decoder !== undefined && this.decoder.state !== "closed") this.decoder.close()
  }
}

export { parseRtp }
