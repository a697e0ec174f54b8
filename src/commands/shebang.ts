// A script's or library's shebang line split into words as Redis's sdssplitargs does (eval.c
// evalExtractShebangFlags, functions.c functionExtractLibMetaData): blanks separate words,
// "double quotes" (with \\xHH, \\n, \\r, \\t, \\b, \\a escapes) and 'single quotes' group them, a
// closing quote must end its word; an unbalanced or misplaced quote makes the line unreadable.

/** A shebang line's words as Redis's sdssplitargs reads them ("…" and '…' quoting); [] if bad. */
export function splitShebang(line: string): string[] {
  const words: string[] = []
  let i = 0
  for (;;) {
    while (i < line.length && ' \t\n\v\f\r'.includes(line[i] as string)) i++
    if (i >= line.length) return words
    let word = ''
    let quote = ''
    for (;;) {
      const c = line[i]
      if (quote === '') {
        if (c === undefined || ' \n\r\t\0'.includes(c)) break
        if (c === '"' || c === "'") quote = c
        else word += c
        i++
        continue
      }
      if (c === undefined) return []
      const next = line[i + 1]
      if (c === quote) {
        if (next !== undefined && !' \t\n\v\f\r'.includes(next)) return []
        i++
        break
      }
      const hex = line.slice(i + 2, i + 4)
      if (quote === '"' && c === '\\' && next === 'x' && /^[0-9a-fA-F]{2}$/.test(hex)) {
        word += String.fromCharCode(parseInt(hex, 16))
        i += 4
      } else if (c === '\\' && next !== undefined && (quote === '"' || next === "'")) {
        word += quote === "'" ? "'" : ({ n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' } as
          Record<string, string>)[next] ?? next
        i += 2
      } else {
        word += c
        i++
      }
    }
    words.push(word)
  }
}
