"""Movie-review snippets with human sentiment ratings (binary: pos / neg).

Source: the source distribution of ``vaderSentiment==3.3.2`` (fetched with
``pip download``, see :mod:`pipeline.data.fetch`). Inside it,
``additional_resources/hutto_ICWSM_2014.tar.gz`` holds
``movieReviewSnippets_GroundTruth.txt``: 10,605 lines ``id TAB mean_rating TAB
text`` (UTF-8, CRLF), the Pang & Lee (2005) sentence-polarity snippets rated
-4..4 by about 20 people each (Hutto & Gilbert, ICWSM 2014).

- **Label**: ``pos`` if the mean rating is > 0, ``neg`` if < 0; snippets rated
  exactly 0 are dropped (their count is in ``meta["dropped_neutral"]``).
- **Tokens**: :func:`pipeline.data.tokenize.tokenize` (Penn-Treebank-like:
  punctuation and ``n't``/``'s`` split off).
- **Split** by snippet id, deterministic: ``id % 10`` in 0..7 -> train,
  8 -> dev, 9 -> test (80 / 10 / 10).

The same archive holds three more rated sets from the same study, read here the same way
(same label rule, same tokenizer) as **evaluation-only** datasets with one ``test`` split
each, for scoring an ``mr`` classifier out of domain (:data:`RATED_SETS`,
:func:`read_rated`): ``amazon-sentiment`` (3,708 product-review sentences),
``tweets-sentiment`` (4,200 tweets, HTML entities such as ``&amp;`` left as written) and
``nyt-sentiment`` (5,190 New York Times editorial sentences); their ids are ``1_1``-style
text, kept as text. After dropping the neutral ones: amazon 3,610 (59.0% pos), tweets 4,196
(69.0% pos), nyt 4,946 (55.4% neg).

>>> label_of(2.27), label_of(-0.6), label_of(0.0) is None
('pos', 'neg', True)
>>> [split_of(i) for i in (10, 17, 18, 19)]
['train', 'train', 'dev', 'test']
>>> parse_snippets("3\\t-0.6\\tEffective but too tepid biopic\\r\\n", "x.txt")
[(3, -0.6, 'Effective but too tepid biopic')]
>>> parse_snippets("1_2\\t0.15\\tok\\r\\n", "x.txt", id_type=str)
[('1_2', 0.15, 'ok')]
>>> sorted(RATED_SETS)
['amazon-sentiment', 'nyt-sentiment', 'tweets-sentiment']
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from pipeline.data.corpus import Split
from pipeline.data.tokenize import tokenize
from pipeline.errors import DataError

NAME = "mr"
PACKAGE = "vaderSentiment"
VERSION = "3.3.2"
SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
PARSE_VERSION = 1  # bump when parsing or tokenisation changes (invalidates parsed caches)

INNER_ARCHIVE = f"{PACKAGE}-{VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
SPLIT_RULE = "by snippet id: id % 10 in 0..7 -> train, 8 -> dev, 9 -> test"
LABEL_RULE = "pos if mean rating > 0, neg if < 0, rating 0 dropped"

# evaluation-only sets in the same archive: dataset name -> (member, what it holds)
RATED_SETS: dict[str, tuple[str, str]] = {
    "amazon-sentiment": ("hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
                         "product-review sentences (Amazon), rated by people, pos/neg"),
    "tweets-sentiment": ("hutto_ICWSM_2014/tweets_GroundTruth.txt", "tweets, rated by people, pos/neg"),
    "nyt-sentiment": ("hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
                      "New York Times editorial sentences, rated by people, pos/neg"),
}
RATED_SPLIT_RULE = "evaluation only: every rated line is in the one test split"


def label_of(rating: float) -> str | None:
    """``pos``/``neg`` for a mean rating; ``None`` for a neutral (0) rating."""
    return "pos" if rating > 0 else "neg" if rating < 0 else None


def split_of(snippet_id: int) -> str:
    r = snippet_id % 10
    return "test" if r == 9 else "dev" if r == 8 else "train"


def parse_snippets(text: str, where: str, id_type=int) -> list[tuple[int, float, str]]:
    """``(id, mean_rating, text)`` for every line of a ground-truth file (ids converted with ``id_type``)."""
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(f"{where} line {lineno}: expected id<TAB>rating<TAB>text, found {len(fields)} "
                            f"field(s); the archive is damaged, delete it from the rnnx cache to fetch it again")
        try:
            rows.append((id_type(fields[0]), float(fields[1]), fields[2].strip()))
        except ValueError:
            raise DataError(f"{where} line {lineno}: id {fields[0]!r} or rating {fields[1]!r} is not a number") from None
    return rows


def read_member(path: Path | str, member: str = MEMBER) -> str:
    """A ground-truth file's text (default: the movie reviews), read from the sdist without unpacking it to disk."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:gz") as outer:
            inner_bytes = outer.extractfile(INNER_ARCHIVE).read()
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            return inner.extractfile(member).read().decode("utf-8-sig")
    except KeyError as exc:
        raise DataError(f"{path}: {exc.args[0]} is missing; is this the {PACKAGE}-{VERSION} sdist?") from None
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the snippets ({exc}); delete the archive to fetch it again") from None


def read_archive(path: Path | str) -> dict[str, Split]:
    """``{"train", "dev", "test"}`` splits from the vaderSentiment sdist at ``path``."""
    path = Path(path)
    rows = parse_snippets(read_member(path), f"{path.name}:{MEMBER}")
    parts: dict[str, tuple[list, list]] = {s: ([], []) for s in ("train", "dev", "test")}
    dropped = {s: 0 for s in parts}
    for snippet_id, rating, text in rows:
        split = split_of(snippet_id)
        label = label_of(rating)
        if label is None:
            dropped[split] += 1
            continue
        parts[split][0].append(tokenize(text))
        parts[split][1].append(label)
    return {
        split: Split(
            "classification", tokens, labels, f"{NAME}:{split}",
            {
                "dataset": NAME,
                "archive": path.name,
                "archive_sha256": SHA256,
                "file": MEMBER,
                "snippets": len(rows),
                "label_rule": LABEL_RULE,
                "dropped_neutral": dropped[split],
                "dropped_neutral_total": sum(dropped.values()),
                "split_rule": SPLIT_RULE,
                "tokenizer": "pipeline.data.tokenize.tokenize (contractions split)",
            },
        )
        for split, (tokens, labels) in parts.items()
    }


def load() -> dict[str, Split]:
    """Fetch (once) and parse the snippets."""
    from pipeline.data.fetch import fetch_pypi_sdist

    return read_archive(fetch_pypi_sdist(PACKAGE, VERSION, SHA256))


def read_rated(path: Path | str, name: str) -> dict[str, Split]:
    """``{"test": Split}`` of the evaluation-only set ``name`` (a key of :data:`RATED_SETS`) in the sdist."""
    path = Path(path)
    member = RATED_SETS[name][0]
    rows = parse_snippets(read_member(path, member), f"{path.name}:{member}", id_type=str)
    tokens, labels, dropped = [], [], 0
    for _, rating, text in rows:
        label = label_of(rating)
        if label is None:
            dropped += 1
            continue
        tokens.append(tokenize(text))
        labels.append(label)
    meta = {"dataset": name, "archive": path.name, "archive_sha256": SHA256, "file": member,
            "snippets": len(rows), "label_rule": LABEL_RULE, "dropped_neutral": dropped,
            "dropped_neutral_total": dropped, "split_rule": RATED_SPLIT_RULE, "evaluation_only": True,
            "tokenizer": "pipeline.data.tokenize.tokenize (contractions split)"}
    return {"test": Split("classification", tokens, labels, f"{name}:test", meta)}


def rated_loader(name: str):
    """The loader of the evaluation-only set ``name``: fetch the sdist (once), read that set."""
    if name not in RATED_SETS:
        raise DataError(f"unknown rated set {name!r}; known: {', '.join(RATED_SETS)}")

    def load_rated() -> dict[str, Split]:
        from pipeline.data.fetch import fetch_pypi_sdist

        return read_rated(fetch_pypi_sdist(PACKAGE, VERSION, SHA256), name)

    return load_rated


def raw_snippets(split_name: str, split: Split) -> list[str] | None:
    """The untokenised texts behind ``split`` (the held-out ``split_name`` of ``mr``), or None when unknown.

    None also when the snippets cannot be fetched or do not tokenise to ``split``'s
    tokens (``split`` is then not this corpus's split, or a different slice of it).
    """
    try:
        from pipeline.data.fetch import fetch_pypi_sdist

        rows = parse_snippets(read_member(fetch_pypi_sdist(PACKAGE, VERSION, SHA256)), MEMBER)
        texts = [text for sid, rating, text in rows if split_of(sid) == split_name and label_of(rating) is not None]
    except Exception:  # the measurement is optional; the check itself does not need it
        return None
    texts = texts[: len(split)]
    if len(texts) != len(split) or any(tokenize(t) != list(toks) for t, toks in zip(texts, split.tokens)):
        return None
    return texts
