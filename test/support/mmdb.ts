/**
 * Writes small MaxMind DB (MMDB v2) files for tests: an IPv4 search tree
 * with 24-bit records, a data section and the metadata, per the MaxMind DB
 * File Format Specification. No npm package writes MMDB; reading the result
 * with the real `maxmind` reader is the point of the Geo-IP test.
 */
import { writeFile } from "node:fs/promises"

type Value =
  | string
  | number
  | boolean
  | ReadonlyArray<Value>
  | { readonly [k: string]: Value }
  | { readonly double: number }
  | { readonly uint: number }
  | { readonly uint32: number }

const TYPE = { string: 2, double: 3, uint16: 5, uint32: 6, map: 7, uint64: 9, array: 11, boolean: 14 } as const

const control = (type: number, size: number): Array<number> => {
  const extended = type > 7
  const out: Array<number> = []
  let sizeBits: number
  const extra: Array<number> = []
  if (size < 29) sizeBits = size
  else if (size < 285) {
    sizeBits = 29
    extra.push(size - 29)
  } else if (size < 65821) {
    sizeBits = 30
    const v = size - 285
    extra.push(v >> 8, v & 0xff)
  } else {
    sizeBits = 31
    const v = size - 65821
    extra.push((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
  }
  out.push(((extended ? 0 : type) << 5) | sizeBits)
  if (extended) out.push(type - 7)
  return [...out, ...extra]
}

const uintBytes = (n: number): Array<number> => {
  const bytes: Array<number> = []
  let v = BigInt(n)
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn))
    v >>= 8n
  }
  return bytes
}

const encode = (value: Value): Array<number> => {
  if (typeof value === "string") {
    const bytes = [...Buffer.from(value, "utf8")]
    return [...control(TYPE.string, bytes.length), ...bytes]
  }
  if (typeof value === "boolean") return control(TYPE.boolean, value ? 1 : 0)
  if (typeof value === "number") {
    const bytes = uintBytes(value)
    return [...control(value <= 0xffff ? TYPE.uint16 : TYPE.uint32, bytes.length), ...bytes]
  }
  if (Array.isArray(value)) return [...control(TYPE.array, value.length), ...value.flatMap(encode)]
  if ("double" in value && typeof value.double === "number") {
    const b = Buffer.alloc(8)
    b.writeDoubleBE(value.double)
    return [...control(TYPE.double, 8), ...b]
  }
  if ("uint32" in value && typeof value.uint32 === "number") {
    const bytes = uintBytes(value.uint32)
    return [...control(TYPE.uint32, bytes.length), ...bytes]
  }
  if ("uint" in value && typeof value.uint === "number") {
    const bytes = uintBytes(value.uint)
    return [...control(TYPE.uint64, bytes.length), ...bytes]
  }
  const entries = Object.entries(value as Record<string, Value>)
  return [...control(TYPE.map, entries.length), ...entries.flatMap(([k, v]) => [...encode(k), ...encode(v)])]
}

/** A City record as GeoIP2/GeoLite2 City databases shape it. */
export const cityRecord = (city: string, countryIso: string, lat: number, lon: number): Value => ({
  city: { names: { en: city } },
  country: { iso_code: countryIso },
  location: { latitude: { double: lat }, longitude: { double: lon }, accuracy_radius: 20 },
})

interface TrieNode {
  children: [TrieNode | number | undefined, TrieNode | number | undefined]
}

const ipv4Bits = (ip: string): Array<number> =>
  ip
    .split(".")
    .map(Number)
    .flatMap((octet) => Array.from({ length: 8 }, (_, i) => (octet >> (7 - i)) & 1))

/** Writes an IPv4 City database mapping each CIDR to its record. */
export const writeCityDatabase = async (path: string, networks: ReadonlyArray<{ cidr: string; record: Value }>) => {
  const root: TrieNode = { children: [undefined, undefined] }
  const data: Array<number> = []
  networks.forEach(({ cidr, record }) => {
    const [ip, lenText] = cidr.split("/") as [string, string]
    const bits = ipv4Bits(ip).slice(0, Number(lenText))
    const dataOffset = data.length
    data.push(...encode(record))
    let node = root
    bits.forEach((bit, depth) => {
      if (depth === bits.length - 1) {
        node.children[bit as 0 | 1] = dataOffset
        return
      }
      let next = node.children[bit as 0 | 1]
      if (typeof next !== "object") {
        next = { children: [undefined, undefined] }
        node.children[bit as 0 | 1] = next
      }
      node = next
    })
  })
  // Number the nodes breadth-first; root is 0.
  const nodes: Array<TrieNode> = []
  const queue: Array<TrieNode> = [root]
  const ids = new Map<TrieNode, number>()
  while (queue.length > 0) {
    const n = queue.shift()!
    ids.set(n, nodes.length)
    nodes.push(n)
    for (const c of n.children) if (typeof c === "object") queue.push(c)
  }
  const count = nodes.length
  const record = (c: TrieNode | number | undefined): number =>
    c === undefined ? count : typeof c === "number" ? count + 16 + c : ids.get(c)!
  const tree: Array<number> = []
  for (const n of nodes) {
    for (const c of n.children) {
      const v = record(c)
      tree.push((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
    }
  }
  const metadata = encode({
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: { uint: Math.floor(Date.now() / 1000) },
    database_type: "GeoLite2-City",
    description: { en: "meetzone test database" },
    ip_version: 4,
    languages: ["en"],
    node_count: { uint32: count },
    record_size: 24,
  })
  const marker = [0xab, 0xcd, 0xef, ...Buffer.from("MaxMind.com")]
  await writeFile(path, Buffer.from([...tree, ...new Array(16).fill(0), ...data, ...marker, ...metadata]))
}
