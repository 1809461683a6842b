"""Text as token ids: a synthetic sentiment task, your own labelled text, and two small models.

Token data is N×L int64 ids, padded at the end with ``pad_id``; the lab never standardizes
or casts it (``lab.datasets.as_data(..., tokens=True)``), and latency and FLOPs are measured
on real sequences of the data (``Data.example``). Models take the ids alone, ``model(ids)``
→ N×K logits; one that wants an attention mask builds it from the padding id
(:class:`TextTransformer` does), or is wrapped in :class:`WithAttentionMask`.

**The synthetic task** (:func:`synthetic_sentiment`), for tests and notebooks: each
sequence has a length drawn uniformly from ``[min_length, length]``; its words are drawn
from a vocabulary of ``vocab_size`` ids laid out as

* 0 — padding, 1 — ``not`` (negates the next sentiment word);
* 2 … 2+S−1 — S = ``sentiment_words`` positive words, then S negative words;
* the rest — neutral words.

Every position holds a neutral word except ``cues`` positions (drawn uniformly among
those ≥ 1 with no two adjacent), which hold a sentiment word, each preceded by ``not`` with probability ``negation``. The
label is 1 (positive) when the sum of the cues' polarities (+1 positive, −1 negative,
flipped after ``not``) is > 0, 0 when < 0; ties are re-drawn. ``noise`` flips that
fraction of labels at random (so the best accuracy is about 1 − ``noise``). Everything
comes from one ``numpy.random.default_rng(seed)``.

Example:
    >>> ids, labels = synthetic_sentiment(100, length=16, seed=0)
    >>> ids.shape, ids.dtype, sorted(set(labels.tolist()))
    ((100, 16), dtype('int64'), [0, 1])
    >>> data = sentiment_data(100, length=16)
    >>> data.kind, data.example(2).dtype
    ('tokens', torch.int64)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from lab.datasets import Data, DataError, as_data

__all__ = [
    "NOT_ID",
    "PAD_ID",
    "BagOfEmbeddings",
    "TextTransformer",
    "WithAttentionMask",
    "sentiment_data",
    "synthetic_sentiment",
    "text_data",
]

PAD_ID, NOT_ID, FIRST_SENTIMENT = 0, 1, 2


def synthetic_sentiment(
    n: int,
    *,
    length: int = 32,
    min_length: int | None = None,
    vocab_size: int = 1000,
    sentiment_words: int = 20,
    cues: int = 3,
    negation: float = 0.2,
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sentiment-like sequences ``(ids N×length int64, labels N)`` (see the module)."""
    min_length = max(cues * 2, length // 2) if min_length is None else min_length
    neutral = FIRST_SENTIMENT + 2 * sentiment_words
    if vocab_size <= neutral:
        raise ValueError(f"vocab_size must exceed {neutral} (padding, not, 2×{sentiment_words})")
    if not 2 * cues <= min_length <= length:
        raise ValueError(f"need 2×cues ≤ min_length ≤ length; got {cues}, {min_length}, {length}")
    rng = np.random.default_rng(seed)
    ids = np.full((n, length), PAD_ID, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        size = int(rng.integers(min_length, length + 1))
        while True:
            row = rng.integers(neutral, vocab_size, size)
            # cue positions ≥ 1 and never adjacent: each has its own slot for a "not" before it
            slots = np.sort(rng.choice(size - cues, cues, replace=False)) + np.arange(cues) + 1
            words = rng.integers(0, 2 * sentiment_words, cues)
            negated = rng.random(cues) < negation
            polarity = np.where(words < sentiment_words, 1, -1) * np.where(negated, -1, 1)
            if polarity.sum() != 0:
                break
        row[slots] = FIRST_SENTIMENT + words
        row[slots[negated] - 1] = NOT_ID
        ids[i, :size] = row
        labels[i] = int(polarity.sum() > 0)
    flip = rng.random(n) < noise
    labels[flip] = 1 - labels[flip]
    return ids, labels


def sentiment_data(n: int = 2000, *, length: int = 32, seed: int = 0, **options) -> Data:
    """:func:`synthetic_sentiment` as the lab's :class:`Data` (split 70/10/20, stratified)."""
    ids, labels = synthetic_sentiment(n, length=length, seed=seed, **options)
    return as_data(
        (ids, labels), name="synthetic sentiment", classes=("negative", "positive"), pad_id=PAD_ID
    )


def _described(value: object) -> str:
    """A value's type, and for a list or tuple the types of its items (``list of str``)."""
    if isinstance(value, (list, tuple)) and value:
        kinds = sorted({type(v).__name__ for v in value})
        return f"a {type(value).__name__} of {' and '.join(kinds)}, e.g. {value[0]!r}"
    return type(value).__name__


def _ids_of(encoded: object, i: int) -> list[int]:
    if isinstance(encoded, Mapping):
        encoded = encoded.get("input_ids")
    if isinstance(encoded, torch.Tensor):
        encoded = encoded.flatten().tolist()
    try:
        ids = [int(v) for v in np.asarray(encoded).reshape(-1)]
    except Exception as exc:  # noqa: BLE001 - anything that is not a list of ids
        raise DataError(
            f"tokenizer(texts[{i}]) must return a list of integer ids (or a dict with "
            f"'input_ids'); got {_described(encoded)}"
        ) from exc
    return ids


def text_data(
    texts: Sequence[str],
    labels: Sequence[int],
    tokenizer: Callable[[str], object],
    *,
    max_length: int | None = None,
    pad_id: int = PAD_ID,
    name: str = "your text",
    classes: Sequence[str] | None = None,
) -> Data:
    """Your labelled text as token :class:`Data`: each text is ``tokenizer(text)`` (a list of
    ids, or a dict with ``input_ids`` as Hugging Face tokenizers return), truncated to
    ``max_length`` (default: the longest) and padded at the end with ``pad_id``."""
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise DataError("texts must be a list of strings")
    if len(texts) != len(labels):
        raise DataError(f"{len(texts)} texts but {len(labels)} labels; they must match")
    encoded = [_ids_of(tokenizer(text), i) for i, text in enumerate(texts)]
    longest = max((len(e) for e in encoded), default=0)
    length = longest if max_length is None else int(max_length)
    if length < 1:
        raise DataError("the tokenizer returned no ids for every text; nothing to learn from")
    ids = np.full((len(texts), length), pad_id, dtype=np.int64)
    for i, row in enumerate(encoded):
        row = row[:length]
        ids[i, : len(row)] = row
    return as_data((ids, np.asarray(labels)), name=name, classes=classes, pad_id=pad_id)


class TextTransformer(nn.Module):
    """A small transformer encoder classifier over token ids (mean of non-padding positions).

    Args:
        vocab_size: ids are 0 … vocab_size−1.
        n_classes: logits per sequence.
        d_model, heads, ffn, layers: width, attention heads, FFN neurons, encoder layers.
        max_length: the longest sequence (learned positions).
        pad_id: the padding id (masked out of attention and pooling).
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        *,
        d_model: int = 64,
        heads: int = 4,
        ffn: int = 128,
        layers: int = 2,
        max_length: int = 128,
        pad_id: int = PAD_ID,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.position = nn.Embedding(max_length, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ffn, dropout=dropout, batch_first=True, norm_first=False
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        padding = ids == self.pad_id
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.position(positions)
        x = self.encoder(x, src_key_padding_mask=padding)
        keep = (~padding).unsqueeze(-1).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1).clamp_min(1.0))


class BagOfEmbeddings(nn.Module):
    """A mean-of-embeddings classifier (``nn.EmbeddingBag``, padding ignored) then a Linear."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 64, pad_id: int = PAD_ID):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=pad_id)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(ids))


class WithAttentionMask(nn.Module):
    """``model(ids)`` for a model called as ``model(input_ids, attention_mask=...)`` (Hugging
    Face style): the mask is 1 where ``ids != pad_id``; an output's ``.logits`` is returned."""

    def __init__(self, model: nn.Module, pad_id: int = PAD_ID) -> None:
        super().__init__()
        self.model, self.pad_id = model, pad_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.model(ids, attention_mask=(ids != self.pad_id).long())
        return getattr(out, "logits", out)
