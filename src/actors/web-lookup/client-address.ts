/**
 * The client's address: the connection's peer, unless that peer is a proxy
 * the operator trusts, in which case X-Forwarded-For is read back to the
 * first untrusted hop (proxy-addr, the module Express uses for `trust proxy`).
 *
 * @since 0.1.0
 */
import proxyaddr from "proxy-addr"

/** @category models */
export type ClientAddress = (peer: string, forwardedFor: string | undefined) => string

/**
 * @param trusted proxy-addr trust list: CIDRs, addresses, or `loopback`,
 * `linklocal`, `uniquelocal`. Empty: X-Forwarded-For is never believed.
 * @category constructors
 */
export const make = (trusted: ReadonlyArray<string>): ClientAddress => {
  const trust = proxyaddr.compile([...trusted])
  return (peer, forwardedFor) =>
    proxyaddr(
      {
        socket: { remoteAddress: peer },
        headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
      } as unknown as Parameters<typeof proxyaddr>[0],
      trust,
    )
}
