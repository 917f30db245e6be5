"""Semantic embeddings of passages and questions, for hybrid retrieval
(app/services/search.py): an optional extra, `pip install 'parley[semantic]'`.

The model ships inside a PyPI package and is never downloaded at run time: WordLlama's
default (l2_supercat, 256 dimensions: token embeddings distilled from a large language
model's, averaged over a text), whose weights (16 MB) and tokenizer are in the wordllama
wheel. It runs on numpy, in a fraction of a millisecond per text. Without the extra,
`available()` is False and retrieval stays full text.

A vector is stored with its passage as float16 bytes (512 bytes), normalised, so that
cosine similarity is a dot product.
"""

import threading
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

DIMENSIONS = 256
_loading = threading.Lock()


def available() -> bool:
    """The semantic extra is installed (its model is then there too)."""
    return find_spec("wordllama") is not None and find_spec("numpy") is not None


def embed(texts: list[str]):
    """Unit vectors (a numpy float32 array, one row per text)."""
    import numpy as np

    vectors = np.asarray(_model().embed(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def to_bytes(vector) -> bytes:
    import numpy as np

    return np.asarray(vector, dtype=np.float16).tobytes()


def from_bytes(stored: list[bytes]):
    """Stored vectors as one float32 array, one row each."""
    import numpy as np

    return np.frombuffer(b"".join(stored), dtype=np.float16).reshape(
        len(stored), DIMENSIONS).astype(np.float32)


@lru_cache(maxsize=1)
def _loaded():
    import wordllama

    # Files are looked up in this folder first: the package's own, so nothing is fetched.
    # (Its lookup of the tokenizer in the package itself misses it: it ships under
    # tokenizers/, looked up under tokenizer/.)
    return wordllama.WordLlama.load(config="l2_supercat", dim=DIMENSIONS,
                                    cache_dir=Path(wordllama.__file__).parent)


def _model():
    # Hundreds of worker threads may ask at once: load once (about a second).
    with _loading:
        return _loaded()
