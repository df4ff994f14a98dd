/**
 * NATS subject rules, for the in-process bus: tokens separated by dots, no
 * empty tokens or whitespace; `*` matches one token, `>` the rest (one or more).
 *
 * @since 0.1.0
 */

const whitespace = /\s/

/**
 * True when `subject` is well formed; wildcards only where subscriptions allow them.
 *
 * @category validation
 */
export const isValidSubject = (subject: string, allowWildcards: boolean): boolean => {
  if (subject.length === 0 || whitespace.test(subject)) return false
  const tokens = subject.split(".")
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.length === 0) return false
    if (t === "*" || t === ">") {
      if (!allowWildcards) return false
      if (t === ">" && i !== tokens.length - 1) return false
    } else if (t.includes("*") || t.includes(">")) {
      // NATS treats these as literals, but they are nearly always a mistake.
      return false
    }
  }
  return true
}

/** @category validation */
export const hasWildcard = (subject: string): boolean => subject.split(".").some((t) => t === "*" || t === ">")

/**
 * Does the (possibly wildcarded) `pattern` match the literal `subject`?
 *
 * @category matching
 */
export const matches = (pattern: string, subject: string): boolean => {
  const p = pattern.split(".")
  const s = subject.split(".")
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!
    if (t === ">") return s.length > i
    if (i >= s.length) return false
    if (t !== "*" && t !== s[i]) return false
  }
  return p.length === s.length
}
