/** The shape of /ops/api/state (src/protocol/web-api.ts OpsState), for checkJs. */
export interface OpsState {
  readonly web: string
  readonly at: number
  readonly zones: ReadonlyArray<{
    readonly id: string
    readonly name: string
    readonly controllers: ReadonlyArray<{ readonly id: string; readonly zone: string }>
    readonly mmrs: ReadonlyArray<{
      readonly mmr: string
      readonly participants: number
      readonly capacity: number
      readonly meetings: number
      readonly packetsPerSecond: number
      readonly cpu: number
      readonly draining: boolean
      readonly leaving?: boolean
      readonly hosting: ReadonlyArray<string>
    }>
  }>
  readonly tunnels: ReadonlyArray<{ readonly id: string; readonly url: string; readonly sessions: number }>
  readonly placements: ReadonlyArray<Placement>
  readonly meetings: ReadonlyArray<OpsMeeting>
  readonly idle: ReadonlyArray<Placement>
  readonly joins: ReadonlyArray<{
    readonly at: number
    readonly meeting: string
    readonly participant?: string
    readonly path?: string
    readonly outcome: string
    readonly zone?: string
    readonly mmr?: string
    readonly totalMs: number
  }>
}

export interface Placement {
  readonly meeting: string
  readonly mmr: string
  readonly zone: string
  readonly at: number
}

export interface ConnectionView {
  readonly kind: "audio" | "video" | "content"
  readonly transport: "udp" | "tcp" | "tls"
  readonly packetsIn: number
  readonly bytesIn: number
  readonly packetsOut: number
  readonly bytesOut: number
  readonly drops: number
  readonly lossIn: number
  readonly lossOut?: number
  readonly jitterMs: number
  readonly rttMs?: number
}

export interface OpsParticipant {
  readonly id: string
  readonly name: string
  readonly joinedAt: number
  readonly path?: string
  readonly media: ReadonlyArray<ConnectionView>
}

export interface OpsMeeting {
  readonly id: string
  readonly topic?: string
  readonly createdAt?: number
  readonly zone: string
  readonly mmr: string
  readonly answered: boolean
  readonly participants: ReadonlyArray<OpsParticipant>
}
