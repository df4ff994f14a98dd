/**
 * Every option of the public surface says what it does: each property of
 * every exported `…Options` / `…Config` interface reachable from the
 * library's entry points (src/index.ts, src/protocol/index.ts), nested
 * object types included, has a doc comment — so the API docs and an
 * editor's hover tell a team what to set. Read with the TypeScript compiler
 * itself, as TypeDoc reads it.
 */
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import ts from "typescript"

const root = join(import.meta.dirname, "../..")
const entries = [join(root, "src/index.ts"), join(root, "src/protocol/index.ts")]

const undocumented = (): ReadonlyArray<string> => {
  const program = ts.createProgram(entries, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true })
  const checker = program.getTypeChecker()
  const missing = new Set<string>()
  const seen = new Set<ts.Symbol>()
  const members = (node: ts.Node, path: string) => {
    const list = ts.isInterfaceDeclaration(node) || ts.isTypeLiteralNode(node) ? node.members : undefined
    for (const member of list ?? []) {
      if (!ts.isPropertySignature(member) || member.name === undefined) continue
      const name = `${path}.${member.name.getText()}`
      const symbol = checker.getSymbolAtLocation(member.name)
      if (symbol === undefined || symbol.getDocumentationComment(checker).length === 0) missing.add(name)
      // Nested option groups (`limits?: { … }`) are options too.
      let type = member.type
      while (type !== undefined && (ts.isParenthesizedTypeNode(type) || (ts.isTypeOperatorNode(type) && type.operator === ts.SyntaxKind.ReadonlyKeyword))) type = type.type
      if (type !== undefined && ts.isTypeLiteralNode(type)) members(type, name)
    }
  }
  const visit = (moduleSymbol: ts.Symbol, path: string) => {
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      if (seen.has(symbol)) continue
      seen.add(symbol)
      if (symbol.flags & ts.SymbolFlags.Module) visit(symbol, `${path}${exported.name}.`)
      else if (symbol.flags & ts.SymbolFlags.Interface && /(Options|Config)$/.test(exported.name)) {
        for (const declaration of symbol.declarations ?? []) members(declaration, `${path}${exported.name}`)
      }
    }
  }
  for (const entry of entries) {
    const source = program.getSourceFile(entry)!
    visit(checker.getSymbolAtLocation(source)!, "")
  }
  return [...missing].sort()
}

describe("the public options", () => {
  it("each has a doc comment", () => {
    expect(undocumented()).toEqual([])
  }, 60_000)
})
