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
  readonly placements: ReadonlyArray<{ readonly meeting: string; readonly mmr: string; readonly zone: string }>
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
