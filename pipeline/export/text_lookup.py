"""The in-graph word -> id table of a text model, matching Python's lowercasing exactly.

``StringNormalizer`` with locale "C" lowercases ASCII letters only; the table
therefore also holds, for every vocabulary word, each spelling whose non-ASCII
letters are in another case (``"École"`` -> id of ``"école"``), so the graph maps
every token to the id :meth:`pipeline.data.vocab.Vocabulary.encode` gives.
"""

from __future__ import annotations

import itertools
import sys
from functools import lru_cache

from pipeline.data.vocab import PAD_ID, Vocabulary

MAX_SPELLINGS = 64

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def c_locale_lower(token: str) -> str:
    """What ``StringNormalizer(case_change_action="LOWER", locale="C")`` does: ASCII only.

    >>> c_locale_lower("ÉCOLE Über")
    'École Über'
    """
    return token.translate(_ASCII_LOWER)


@lru_cache(maxsize=1)
def _other_cases() -> dict[str, tuple[str, ...]]:
    """For each lowercase character, the other single characters that lower to it
    (ASCII A-Z excluded: the graph's StringNormalizer handles them)."""
    out: dict[str, list[str]] = {}
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        low = ch.lower()
        if low != ch and len(low) == 1 and not ("A" <= ch <= "Z"):
            out.setdefault(low, []).append(ch)
    return {k: tuple(v) for k, v in out.items()}


def spellings(word: str, limit: int = MAX_SPELLINGS) -> list[str]:
    """Strings the C-locale normaliser can hand over for tokens Python lowercases to ``word``.

    ``word`` comes first; at most ``limit`` are returned.

    >>> spellings("école")
    ['école', 'École']
    >>> spellings("cat")
    ['cat']
    """
    cases = _other_cases()
    choices = [(ch, *cases.get(ch, ())) for ch in word]
    out = []
    for combo in itertools.product(*choices):
        candidate = "".join(combo)
        if candidate.lower() == word and c_locale_lower(candidate) == candidate:
            out.append(candidate)
            if len(out) >= limit:
                break
    return out


def lookup_table(vocab: Vocabulary) -> tuple[list[str], list[int], dict]:
    """Keys, ids and statistics for the in-graph word -> id ``LabelEncoder``.

    ``""`` maps to the padding id 0; the reserved entries ``<pad>``/``<unk>``
    are left out (they map to the unknown id like any unseen word).

    >>> keys, ids, stats = lookup_table(Vocabulary(["<pad>", "<unk>", "école", "cat"], lowercase=True))
    >>> list(zip(keys, ids))
    [('', 0), ('école', 2), ('École', 2), ('cat', 3)]
    """
    keys, ids = [""], [PAD_ID]
    extra = capped = 0
    for index, word in enumerate(vocab.words[2:], start=2):
        if word == "":
            continue
        if vocab.lowercase:
            forms = spellings(word, MAX_SPELLINGS + 1)
            if len(forms) > MAX_SPELLINGS:
                capped += 1
                forms = forms[:MAX_SPELLINGS]
            if word not in forms:  # a word that is not its own lowercase: it can never match; keep it anyway
                forms.insert(0, word)
        else:
            forms = [word]
        extra += len(forms) - 1
        keys.extend(forms)
        ids.extend([index] * len(forms))
    stats = {"vocabulary_words": vocab.size, "keys": len(keys), "extra_case_spellings": extra,
             "words_with_capped_spellings": capped}
    return keys, ids, stats
