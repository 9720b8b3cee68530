"""Where the shared data sets (NAB, CWRU) live: ``shared/datasets`` beside the repository.

CI clones the repository with ``shared/`` beside it; a developer may point
``HOUSECALL_SHARED_DIR`` elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dataset(name: str) -> Path:
    """The folder of data set ``name`` (e.g. ``"nab"``, ``"cwru"``), or a clear error."""
    candidates = [REPO_ROOT.parent / "shared", Path("/work/shared")]
    if "HOUSECALL_SHARED_DIR" in os.environ:
        candidates.insert(0, Path(os.environ["HOUSECALL_SHARED_DIR"]))
    for shared in candidates:
        folder = shared / "datasets" / name
        if folder.is_dir():
            return folder
    looked = ", ".join(str(c / "datasets" / name) for c in candidates)
    raise FileNotFoundError(f"data set {name!r} not found (looked in {looked})")
