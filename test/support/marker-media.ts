/**
 * RTP audio whose every payload is a known byte pattern, 50 packets a second
 * from just below a sequence-number wrap: what a test puts in, to look for
 * on the wire (it must be absent when media is encrypted) and at the
 * receiver (it must arrive unchanged).
 */
import { Schedule, Stream } from "effect"
import * as Rtp from "../../src/protocol/rtp.js"

/** `count` packets of `copies` × `marker`, for `ssrc`; packet i has sequence 65,500 + i (mod 2^16). */
export const markerPackets = (marker: Buffer, copies: number, count: number) => (ssrc: number) =>
  Stream.range(0, count - 1).pipe(
    Stream.map((i) => {
      const packet = Buffer.alloc(Rtp.HEADER_SIZE + marker.length * copies)
      Rtp.writeHeader(packet, { payloadType: 111, marker: i === 0, sequence: (65_500 + i) & 0xffff, timestamp: i * 960, ssrc })
      for (let k = 0; k < copies; k++) marker.copy(packet, Rtp.HEADER_SIZE + k * marker.length)
      return packet as Uint8Array
    }),
    Stream.schedule(Schedule.spaced("20 millis")),
  )
