"""Split raw text into tokens the way the corpora are tokenised (pure Python).

Rules, applied to each whitespace-separated chunk from left to right:

1. ``` `` ``` and ``''`` (the corpora's quote marks), ``...`` and ``--`` are tokens.
2. Abbreviations keep their periods: ``U.S.``, ``p.m.``, ``Mr.``, ``Dr.``, ``etc.``.
3. Numbers keep inner ``.`` ``,`` ``:`` ``/``: ``3.5``, ``1,000``, ``10:30``, ``1/2``.
4. Words keep inner hyphens, apostrophes, slashes and ``&``: ``hard-fought``,
   ``o'clock``, ``writer/director``, ``AT&T``.
5. With ``contractions=True`` (the default, as in the Penn Treebank) the clitics
   ``n't 's 're 've 'll 'd 'm`` are split off words: ``don't`` -> ``do n't``,
   ``he's`` -> ``he 's``. A chunk that already is a clitic stays one token, so
   tokenising already-tokenised text changes nothing.
6. Every other character that is not a letter, digit or space is a token of its
   own (``,`` ``.`` ``(`` ``?`` ``"`` ...).

The Brown corpus keeps contractions and possessives whole (``don't/do*``,
``Atlanta's/np$``): a tagger trained on Brown should tokenise raw text with
``contractions=False``. The movie-review snippets are tokenised with the default.

>>> tokenize("They are early birds .")
['They', 'are', 'early', 'birds', '.']
>>> tokenize("The Rock isn't ''Conan'', he's 21st-century U.S. fun (3.5/4)!")
['The', 'Rock', 'is', "n't", "''", 'Conan', "''", ',', 'he', "'s", '21st-century', 'U.S.', 'fun', '(', '3.5/4', ')', '!']
>>> tokenize("Don't panic.", contractions=False)
["Don't", 'panic', '.']
"""

from __future__ import annotations

import re

# Single-word abbreviations that end in a period (compared lowercased).
ABBREVIATIONS = frozenset(
    "mr mrs ms messrs dr prof jr sr st mt vs etc inc ltd co corp gov sen rep gen col lt capt sgt".split()
)
CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")

_APOS = "'\u2019"  # straight and typographic apostrophe
_PATTERN = re.compile(
    rf"""
      (?P<quote>``|'')
    | (?P<dots>\.{{2,}}|\u2026)
    | (?P<dash>-{{2,}}|\u2013|\u2014)
    | (?P<clitic>(?:[{_APOS}](?:s|re|ve|ll|d|m)|n[{_APOS}]t)(?![^\W_]))
    | (?P<initials>(?:[^\W\d_]\.){{2,}})
    | (?P<number>\d+(?:[.,:/]\d+)+)
    | (?P<word>[^\W_]+(?:[-{_APOS}/&][^\W_]+)*)
    | (?P<other>\S)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_CONTRACTION = re.compile(
    rf"^(?P<stem>.+?)(?P<clitic>n[{_APOS}]t|[{_APOS}](?:s|re|ve|ll|d|m))$", re.IGNORECASE
)


def tokenize(text: str, *, contractions: bool = True) -> list[str]:
    """Tokens of ``text`` (see the module docstring for the rules)."""
    tokens: list[str] = []
    for chunk in text.split():
        pos = 0
        while pos < len(chunk):
            m = _PATTERN.match(chunk, pos)
            kind, tok = m.lastgroup, m.group()
            pos = m.end()
            if kind == "word":
                # "Mr." / "etc." keep their period when the chunk goes on with it.
                if chunk.startswith(".", pos) and tok.lower() in ABBREVIATIONS:
                    tok += "."
                    pos += 1
                elif contractions:
                    clitics = []
                    while (c := _CONTRACTION.match(tok)) is not None:
                        tok = c.group("stem")
                        clitics.append(c.group("clitic"))
                    tokens.append(tok)
                    tokens.extend(reversed(clitics))
                    continue
            tokens.append(tok)
    return tokens
