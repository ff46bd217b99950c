// Split raw text into tokens the way rnnx's corpora are tokenised: a port of
// pipeline/data/tokenize.py (tests/test_web_tokenize.py checks that both give the same tokens).
//
//   tokenize("The Rock isn't ''Conan'', he's 21st-century U.S. fun (3.5/4)!")
//   // ["The", "Rock", "is", "n't", "''", "Conan", "''", ",", "he", "'s", "21st-century", "U.S.", ...]
//   tokenize("Don't panic.", { contractions: false })   // ["Don't", "panic", "."]
//
// Python's Unicode \w without "_" is [\p{L}\p{N}] here; its \d is \p{Nd}.

export const ABBREVIATIONS = new Set(
  "mr mrs ms messrs dr prof jr sr st mt vs etc inc ltd co corp gov sen rep gen col lt capt sgt".split(" "),
);

const APOS = "'\u2019";
const WORDCH = "[\\p{L}\\p{N}]";
const LETTER = "[\\p{L}\\p{Nl}\\p{No}]"; // Python [^\W\d_]
const PATTERN = new RegExp(
  [
    "(?<quote>``|'')",
    "(?<dots>\\.{2,}|\u2026)",
    "(?<dash>-{2,}|\u2013|\u2014)",
    `(?<clitic>(?:[${APOS}](?:s|re|ve|ll|d|m)|n[${APOS}]t)(?!${WORDCH}))`,
    `(?<initials>(?:${LETTER}\\.){2,})`,
    "(?<number>\\p{Nd}+(?:[.,:/]\\p{Nd}+)+)",
    `(?<word>${WORDCH}+(?:[-${APOS}/&]${WORDCH}+)*)`,
    "(?<other>\\S)",
  ].join("|"),
  "iuy",
);
const CONTRACTION = new RegExp(`^(.+?)(n[${APOS}]t|[${APOS}](?:s|re|ve|ll|d|m))$`, "iu");
const GROUPS = ["quote", "dots", "dash", "clitic", "initials", "number", "word", "other"];

export function tokenize(text, { contractions = true } = {}) {
  const tokens = [];
  for (const chunk of text.split(/\s+/u)) {
    let pos = 0;
    while (pos < chunk.length) {
      PATTERN.lastIndex = pos;
      const m = PATTERN.exec(chunk);
      let tok = m[0];
      const kind = GROUPS.find((g) => m.groups[g] !== undefined);
      pos = PATTERN.lastIndex;
      if (kind === "word") {
        if (chunk.startsWith(".", pos) && ABBREVIATIONS.has(tok.toLowerCase())) {
          tok += ".";
          pos += 1;
        } else if (contractions) {
          const clitics = [];
          let c;
          while ((c = CONTRACTION.exec(tok)) !== null) {
            tok = c[1];
            clitics.push(c[2]);
          }
          tokens.push(tok, ...clitics.reverse());
          continue;
        }
      }
      tokens.push(tok);
    }
  }
  return tokens;
}
