"""Dense sentence embeddings from WordLlama's weights, loaded from the files in its wheel.

WordLlama 0.4.0's own loader looks for its tokenizer in a folder that does not exist
(`tokenizer/` instead of `tokenizers/`) and then falls back to Hugging Face over the network;
this module opens both packaged files itself, so nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DIMENSIONS = 256
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"


def packaged_files() -> tuple[Path, Path]:
    """(weights, tokenizer) inside the installed wordllama package."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise RuntimeError("wordllama is not installed; install wirewatch's dependencies")
    root = Path(spec.origin).parent
    return root / WEIGHTS, root / TOKENIZER


@functools.cache
def _model() -> Any:
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    weights, tokenizer_file = packaged_files()
    with safe_open(str(weights), framework="np", device="cpu") as tensors:
        table = tensors.get_tensor("embedding.weight")
    return WordLlamaInference(table, Tokenizer.from_file(str(tokenizer_file)))


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (zeros for an empty text)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = np.asarray(_model().embed(list(texts), norm=True), dtype=np.float32)
    return np.nan_to_num(vectors)


def quantise(vector: np.ndarray) -> bytes:
    """A unit vector as 256 signed bytes: a quarter of float32, cosine within ~0.01."""
    return bytes(np.clip(np.rint(vector * 127.0), -127, 127).astype(np.int8).tobytes())


def dequantise(data: bytes) -> np.ndarray:
    vector = np.frombuffer(data, dtype=np.int8).astype(np.float32) / 127.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
