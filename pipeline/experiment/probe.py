"""Question 4: what does a hidden state represent? Linear probes and nearest neighbours.

For a trained tagger, a Keras sub-model returns each token's embedding and the
last recurrent layer's output (a bidirectional layer: ``[forward; backward]``).
On held-out sentences a linear probe -- softmax regression, numpy, full-batch Adam
on standardised features -- learns to predict from one token's vector the
universal tag of

* the **current** token,
* the **previous** token (``<s>`` at the first), and
* the **next** token (``</s>`` at the last).

Probes train on sentences of the dev split and are scored on sentences of the test
split (both unseen by the tagger). Reference points: the majority class, and the
same probe on the word embedding alone (what the word itself says, no context).
A unidirectional state has read the left context only: it should predict the
previous tag well and the next tag little better than the word does; the backward
half of a bidirectional state should do the opposite, and the whole state both.

Nearest neighbours (cosine) of a token's state among the probe-training tokens
show the same thing by example.

>>> prev, nxt = shifted_tags([["DET", "NOUN"], ["VERB"]])
>>> prev, nxt
(['<s>', 'DET', '<s>'], ['NOUN', '</s>', '</s>'])
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
>>> probe = SoftmaxProbe.fit(X, [y], [2], steps=200)
>>> probe.predict(X)[0].tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.corpus import Split

BOS, EOS = "<s>", "</s>"
TARGETS = ("current", "previous", "next")


# ----------------------------------------------------------------------------- token vectors


@dataclass
class TokenVectors:
    """Per token of a split: embedding, recurrent state, word, tag, position."""

    embedding: np.ndarray  # [tokens, embedding_dim]
    state: np.ndarray  # [tokens, state_dim]
    words: list[str]
    tags: list[str]
    sentence: np.ndarray  # index of the sentence of each token
    position: np.ndarray  # index of the token in its sentence
    split: Split

    def context(self, i: int, width: int = 3) -> str:
        """The token in its sentence, ``width`` words either side, itself in brackets."""
        toks = self.split.tokens[int(self.sentence[i])]
        p = int(self.position[i])
        left = " ".join(toks[max(0, p - width):p])
        right = " ".join(toks[p + 1:p + 1 + width])
        before = "... " if p > width else ""
        after = " ..." if p + 1 + width < len(toks) else ""
        return f"{before}{left} [{toks[p]}] {right}{after}".strip()


def recurrent_layers(model) -> list:
    """The recurrent layers of ``model`` in order (``RNN`` subclasses and ``Bidirectional``)."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]


def state_function(model):
    """``ids[batch, time] -> [embedding ; last recurrent output]`` concatenated on the last axis."""
    import keras

    from pipeline.train.evaluate import keras_batch_fn

    rec = recurrent_layers(model)
    if not rec:
        raise ValueError(f"model {model.name!r} has no recurrent layer to probe")
    emb = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    if not emb:
        raise ValueError(f"model {model.name!r} has no Embedding layer")
    sub = keras.Model(model.inputs, keras.layers.Concatenate(axis=-1)([emb[0].output, rec[-1].output]))
    return keras_batch_fn(sub), int(emb[0].output.shape[-1])


def token_vectors(model, vocab, split: Split, *, batch_size: int = 64) -> TokenVectors:
    """Embeddings and states of every token of ``split`` (a tagging split)."""
    from pipeline.runtime.batches import run_batched

    fn, emb_dim = state_function(model)
    ids = [vocab.encode(t) for t in split.tokens]
    out = run_batched(fn, ids, task="tagging", batch_size=batch_size)
    flat = np.concatenate([o for o in out if len(o)], axis=0).astype(np.float32)
    lengths = [len(t) for t in split.tokens]
    return TokenVectors(
        embedding=flat[:, :emb_dim],
        state=flat[:, emb_dim:],
        words=[w for toks in split.tokens for w in toks],
        tags=[t for tags in split.labels for t in tags],
        sentence=np.repeat(np.arange(len(lengths)), lengths),
        position=np.concatenate([np.arange(n) for n in lengths]) if lengths else np.zeros(0, int),
        split=split,
    )


def shifted_tags(tags_per_sentence: list[list[str]]) -> tuple[list[str], list[str]]:
    """Flattened previous and next tags, with ``<s>``/``</s>`` at the sentence edges."""
    prev, nxt = [], []
    for tags in tags_per_sentence:
        prev.extend([BOS] + list(tags[:-1]))
        nxt.extend(list(tags[1:]) + [EOS])
    return prev, nxt


def targets_of(split: Split) -> dict[str, list[str]]:
    prev, nxt = shifted_tags(split.labels)
    return {"current": [t for tags in split.labels for t in tags], "previous": prev, "next": nxt}


# ----------------------------------------------------------------------------- softmax regression


@dataclass
class SoftmaxProbe:
    """Independent softmax-regression heads on one standardised feature matrix."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray  # [features + 1, sum(classes)] (last row: bias)
    classes: list[int]

    @classmethod
    def fit(cls, X: np.ndarray, ys: list[np.ndarray], classes: list[int], *, steps: int = 300, lr: float = 0.05,
            l2: float = 1e-4) -> "SoftmaxProbe":
        """Minimise mean cross-entropy + ``l2``/2 |W|^2 per head with full-batch Adam."""
        X = np.asarray(X, dtype=np.float32)
        mean = X.mean(axis=0)
        scale = X.std(axis=0) + 1e-6
        Z = np.concatenate([(X - mean) / scale, np.ones((len(X), 1), np.float32)], axis=1)
        ZT = np.ascontiguousarray(Z.T)
        W = np.zeros((Z.shape[1], sum(classes)), np.float32)
        onehot = np.zeros((len(X), sum(classes)), np.float32)
        offsets = np.cumsum([0] + list(classes))
        for k, y in enumerate(ys):
            onehot[np.arange(len(X)), offsets[k] + np.asarray(y)] = 1.0
        m = np.zeros_like(W)
        v = np.zeros_like(W)
        b1, b2 = 0.9, 0.999
        for t in range(1, steps + 1):
            P = _softmax_heads(Z @ W, offsets)
            G = ZT @ (P - onehot) / len(X)
            G[:-1] += l2 * W[:-1]
            m = b1 * m + (1 - b1) * G
            v = b2 * v + (1 - b2) * G * G
            W -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + 1e-8)
        return cls(mean, scale, W, list(classes))

    def predict(self, X: np.ndarray) -> list[np.ndarray]:
        Z = np.concatenate([(np.asarray(X, np.float32) - self.mean) / self.scale,
                            np.ones((len(X), 1), np.float32)], axis=1)
        logits = Z @ self.weight
        offsets = np.cumsum([0] + self.classes)
        return [logits[:, offsets[k]:offsets[k + 1]].argmax(axis=1) for k in range(len(self.classes))]


def _softmax_heads(logits: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = np.empty_like(logits)
    for a, b in zip(offsets[:-1], offsets[1:]):
        z = logits[:, a:b] - logits[:, a:b].max(axis=1, keepdims=True)
        e = np.exp(z)
        out[:, a:b] = e / e.sum(axis=1, keepdims=True)
    return out


# ----------------------------------------------------------------------------- probing a tagger


def _encode(names: list[str], index: dict[str, int]) -> np.ndarray:
    return np.asarray([index.get(n, -1) for n in names])


def feature_sets(vectors: TokenVectors, units: int, bidirectional: bool) -> dict[str, np.ndarray]:
    """``embedding`` (the word alone), ``state``, and for a bidirectional layer its two halves."""
    sets = {"embedding": vectors.embedding, "state": vectors.state}
    if bidirectional:
        sets["forward half"] = vectors.state[:, :units]
        sets["backward half"] = vectors.state[:, units:]
    return sets


def probe_tagger(run, train: TokenVectors, test: TokenVectors, *, steps: int) -> dict:
    """Probe accuracies (fractions) per feature set and target, with the majority baseline."""
    cfg = run.model_config
    y_train, y_test = targets_of(train.split), targets_of(test.split)
    classes = {}
    for name in TARGETS:
        classes[name] = sorted(set(y_train[name]))
    index = {name: {c: i for i, c in enumerate(classes[name])} for name in TARGETS}
    enc_train = [_encode(y_train[n], index[n]) for n in TARGETS]
    enc_test = [_encode(y_test[n], index[n]) for n in TARGETS]
    majority = {}
    for k, name in enumerate(TARGETS):
        top = int(np.bincount(enc_train[k], minlength=len(classes[name])).argmax())
        majority[name] = float((enc_test[k] == top).mean())
    results = {}
    train_sets = feature_sets(train, cfg.units, cfg.bidirectional)
    test_sets = feature_sets(test, cfg.units, cfg.bidirectional)
    for fname, X in train_sets.items():
        probe = SoftmaxProbe.fit(X, enc_train, [len(classes[n]) for n in TARGETS], steps=steps)
        preds = probe.predict(test_sets[fname])
        results[fname] = {name: float((p == y).mean()) for name, p, y in zip(TARGETS, preds, enc_test)}
        results[fname]["dim"] = int(X.shape[1])
    return {
        "name": run.files.root.name,
        "cell": cfg.cell,
        "bidirectional": cfg.bidirectional,
        "train_tokens": int(len(train.words)),
        "test_tokens": int(len(test.words)),
        "majority": majority,
        "features": results,
    }


def nearest(query: np.ndarray, corpus: TokenVectors, k: int) -> list[dict]:
    """The ``k`` corpus tokens whose states are closest to ``query`` by cosine similarity."""
    states = corpus.state
    sims = states @ query / (np.linalg.norm(states, axis=1) * np.linalg.norm(query) + 1e-12)
    order = np.argsort(-sims)[:k]
    return [{"word": corpus.words[i], "tag": corpus.tags[i], "context": corpus.context(int(i)),
             "cosine": float(sims[i])} for i in order]


def neighbours_of_sentences(run, corpus: TokenVectors, sentences, focus: int, k: int) -> list[dict]:
    """Nearest corpus neighbours of the focus word's state in each of ``sentences``."""
    split = Split("tagging", [list(s) for s in sentences], [["X"] * len(s) for s in sentences])
    vec = token_vectors(run.model, run.vocab, split)
    out = []
    for j, s in enumerate(sentences):
        i = int(np.flatnonzero((vec.sentence == j) & (vec.position == focus))[0])
        out.append({"sentence": " ".join(s), "word": s[focus], "neighbours": nearest(vec.state[i], corpus, k)})
    return out


def probe_runs(run_paths: list[Path], probe_train: Split, probe_test: Split, *, steps: int, neighbours: int,
               sentences, focus: int, neighbour_runs: tuple[str, ...] = ()) -> dict:
    """Probe every tagger in ``run_paths``; nearest neighbours for those named in ``neighbour_runs``."""
    from pipeline.train.rundir import load_run

    probes, nn = [], []
    for path in run_paths:
        run = load_run(path)
        train = token_vectors(run.model, run.vocab, probe_train)
        test = token_vectors(run.model, run.vocab, probe_test)
        probes.append(probe_tagger(run, train, test, steps=steps))
        if run.files.root.name in neighbour_runs:
            nn.append({"name": run.files.root.name, "cell": run.model_config.cell,
                       "bidirectional": run.model_config.bidirectional,
                       "queries": neighbours_of_sentences(run, train, sentences, focus, neighbours)})
    return {"probes": probes, "neighbours": nn, "summary": summarize(probes),
            "data": {"train": probe_train.source, "test": probe_test.source,
                     "train_sentences": len(probe_train), "test_sentences": len(probe_test)}}


def _mean(probes: list[dict], feature: str, target: str) -> float | None:
    values = [p["features"][feature][target] for p in probes if feature in p["features"]]
    return float(np.mean(values)) if values else None


def summarize(probes: list[dict]) -> str:
    """One paragraph with the mean probe accuracies of uni- and bidirectional states."""
    if not probes:
        return ""
    uni = [p for p in probes if not p["bidirectional"]]
    bi = [p for p in probes if p["bidirectional"]]
    maj = probes[0]["majority"]

    def f(x):
        return "-" if x is None else f"{100 * x:.1f}%"

    parts = [f"Majority class: previous {f(maj['previous'])}, next {f(maj['next'])}."]
    if uni:
        parts.append(
            f"Unidirectional states (mean of {len(uni)}) predict the previous tag with "
            f"{f(_mean(uni, 'state', 'previous'))} (word embedding alone: {f(_mean(uni, 'embedding', 'previous'))}) "
            f"but the next tag with only {f(_mean(uni, 'state', 'next'))} (embedding alone: "
            f"{f(_mean(uni, 'embedding', 'next'))}): the state summarises the words read so far, and what comes "
            f"next is guessed from them.")
    if bi:
        parts.append(
            f"Bidirectional states (mean of {len(bi)}) predict both: previous {f(_mean(bi, 'state', 'previous'))}, "
            f"next {f(_mean(bi, 'state', 'next'))}; their forward halves behave like unidirectional states "
            f"(previous {f(_mean(bi, 'forward half', 'previous'))}, next {f(_mean(bi, 'forward half', 'next'))}) "
            f"and their backward halves mirror them (previous {f(_mean(bi, 'backward half', 'previous'))}, "
            f"next {f(_mean(bi, 'backward half', 'next'))}).")
    return " ".join(parts)
