/**
 * What an operator may see of an MMR's meetings: each participant with the
 * connection it has per media kind — transport, counters, loss both ways,
 * jitter and round trip. Read from the roster and the SFU as they are now;
 * no key share, SSRC or address leaves here.
 *
 * @since 0.4.0
 */
import type { ConnectionView, HostedMeeting, Participant } from "../../protocol/mmr.js"
import { mediaKinds } from "../../protocol/media.js"
import type { Sfu } from "./sfu.js"

/** At most this many participants in one answer: it must fit a NATS message (1 MB by default). */
export const MAX_PARTICIPANTS = 2000

/** @category views */
export const hostedMeetings = (meetings: ReadonlyMap<string, ReadonlyMap<string, Participant>>, sfu: Sfu | undefined): ReadonlyArray<HostedMeeting> => {
  let left = MAX_PARTICIPANTS
  const out: Array<HostedMeeting> = []
  for (const [meeting, participants] of meetings) {
    const shown = [...participants.values()].slice(0, Math.max(0, left))
    left -= shown.length
    out.push({
      meeting,
      participants: shown.map((p) => ({ id: p.id, name: p.name, joinedAt: p.joinedAt, media: connections(sfu, meeting, p.id) })),
    })
  }
  return out
}

const connections = (sfu: Sfu | undefined, meeting: string, participant: string): ReadonlyArray<ConnectionView> => {
  const stats = sfu?.participantStats(meeting, participant)
  if (sfu === undefined || stats === undefined) return []
  const out: Array<ConnectionView> = []
  for (const kind of mediaKinds) {
    const binding = sfu.bindingOf(meeting, participant, kind)
    if (binding === undefined || binding.closed) continue
    const s = stats[kind]
    const reports = [...binding.rtcp.received.values()]
    out.push({
      kind,
      transport: binding.endpoint.transport,
      packetsIn: s.packetsIn,
      bytesIn: s.bytesIn,
      packetsOut: s.packetsOut,
      bytesOut: s.bytesOut,
      drops: s.drops,
      lossIn: s.source.loss,
      ...(reports.length > 0 ? { lossOut: reports.reduce((sum, r) => sum + r.loss, 0) / reports.length } : {}),
      jitterMs: s.source.jitterMs,
      ...(binding.rtcp.rttMs !== undefined ? { rttMs: binding.rtcp.rttMs } : {}),
    })
  }
  return out
}
