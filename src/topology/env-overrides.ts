/**
 * Environment overrides of a configuration file, applied before decoding:
 *
 *   MEETZONE__NATS__SERVERS='["nats://10.0.0.1:4222","nats://10.0.0.2:4222"]'
 *   MEETZONE__ZONES__0__MMRS__1__CAPACITY=250
 *   MEETZONE__TIMING__DRAIN_GRACE="10 seconds"
 *   MEETZONE__WEB__0__OPS_TOKEN=…
 *
 * Segments are separated by `__`; each names a field of the configuration
 * (case and `_`/`-` ignored, so DRAIN_GRACE is drainGrace) or an array index.
 * Values are read as YAML (numbers, booleans, lists and objects; anything
 * else is a string). A variable naming no field is an error that names it:
 * a typo must not be silently ignored.
 *
 * @since 0.1.0
 */
import { Either, Option, SchemaAST as AST } from "effect"
import { parse as parseYaml } from "yaml"

/** @category constants */
export const PREFIX = "MEETZONE__"

/** @category models */
export interface Override {
  readonly variable: string
  /** The configuration path it set, e.g. "zones.0.mmrs.1.capacity". */
  readonly path: string
}

/** @category models */
export interface OverrideProblem {
  readonly variable: string
  readonly message: string
}

const normalize = (s: string) => s.replace(/[_-]/g, "").toLowerCase()

/** The shape behind refinements, transformations and suspensions. */
const unwrap = (ast: AST.AST): AST.AST => {
  switch (ast._tag) {
    case "Refinement":
      return unwrap(ast.from)
    case "Transformation":
      return unwrap(ast.from)
    case "Suspend":
      return unwrap(ast.f())
    default:
      return ast
  }
}

/** The members a field may hold: a union's alternatives (undefined dropped), else itself. */
const alternatives = (ast: AST.AST): ReadonlyArray<AST.AST> => {
  const shape = unwrap(ast)
  return shape._tag === "Union" ? shape.types.flatMap(alternatives).filter((t) => t._tag !== "UndefinedKeyword") : [shape]
}

type Step = { readonly kind: "field"; readonly name: string; readonly ast: AST.AST } | { readonly kind: "index"; readonly index: number; readonly ast: AST.AST }

/** What `segment` names inside a value of shape `ast`, if anything. */
const step = (ast: AST.AST, segment: string): Either.Either<Step, string> => {
  for (const shape of alternatives(ast)) {
    if (shape._tag === "TypeLiteral") {
      const field = shape.propertySignatures.find((p) => typeof p.name === "string" && normalize(p.name) === normalize(segment))
      if (field !== undefined) return Either.right({ kind: "field", name: field.name as string, ast: field.type })
      return Either.left(`no field "${segment}" here (fields: ${shape.propertySignatures.map((p) => String(p.name)).join(", ")})`)
    }
    if (shape._tag === "TupleType") {
      const element = shape.rest[0]?.type
      if (element === undefined) continue
      if (!/^\d+$/.test(segment)) return Either.left(`"${segment}" is not a list index`)
      return Either.right({ kind: "index", index: Number(segment), ast: element })
    }
  }
  return Either.left(`"${segment}" goes below a plain value`)
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * `data` with every `MEETZONE__…` variable of `env` applied, or the problems
 * (each naming its variable).
 *
 * @category overrides
 */
export const apply = (
  schema: AST.AST,
  data: unknown,
  env: Readonly<Record<string, string | undefined>>,
): Either.Either<{ readonly data: unknown; readonly applied: ReadonlyArray<Override> }, ReadonlyArray<OverrideProblem>> => {
  const root: unknown = structuredClone(data ?? {})
  const problems: Array<OverrideProblem> = []
  const applied: Array<Override> = []
  const variables = Object.keys(env)
    .filter((k) => k.startsWith(PREFIX))
    .sort()
  for (const variable of variables) {
    const raw = env[variable]!
    const segments = variable.slice(PREFIX.length).split("__")
    if (segments.some((s) => s === "")) {
      problems.push({ variable, message: "empty path segment" })
      continue
    }
    let ast = AST.encodedAST(schema)
    let container: unknown = root
    const path: Array<string | number> = []
    let failed: string | undefined
    for (const [i, segment] of segments.entries()) {
      const next = step(ast, segment)
      if (Either.isLeft(next)) {
        failed = `${path.length === 0 ? "" : `${path.join(".")}: `}${next.left}`
        break
      }
      const last = i === segments.length - 1
      const key = next.right.kind === "field" ? next.right.name : next.right.index
      if (next.right.kind === "index") {
        if (!Array.isArray(container)) {
          failed = `${path.join(".")} is not a list in the file`
          break
        }
        if (next.right.index > container.length) {
          failed = `${path.join(".")} has ${container.length} entries; index ${next.right.index} would leave a gap`
          break
        }
      } else if (!isRecord(container)) {
        failed = `${path.join(".") || "the configuration"} is not an object in the file`
        break
      }
      path.push(key)
      const holder = container as Record<string | number, unknown>
      if (last) {
        holder[key] = parseValue(raw)
      } else {
        if (holder[key] === undefined) holder[key] = isListShape(next.right.ast) ? [] : {}
        container = holder[key]
      }
      ast = next.right.ast
    }
    if (failed !== undefined) problems.push({ variable, message: failed })
    else applied.push({ variable, path: path.join(".") })
  }
  return problems.length > 0 ? Either.left(problems) : Either.right({ data: root, applied })
}

const isListShape = (ast: AST.AST) => alternatives(ast).some((a) => a._tag === "TupleType")

/** YAML scalars and collections; text that is not valid YAML stays text. */
const parseValue = (raw: string): unknown =>
  Option.getOrElse(
    Option.liftThrowable(() => parseYaml(raw) as unknown)(),
    () => raw,
  ) ?? raw
