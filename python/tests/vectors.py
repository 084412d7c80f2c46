"""The test vectors TV1-TV18 of docs/method.md §11, read from docs/test-vectors.json: the one copy,
which the TypeScript tests read too. Found relative to this file, so any working directory works."""
import json
from pathlib import Path

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "test-vectors.json"

with VECTORS_PATH.open(encoding="utf-8") as f:
    _data = json.load(f)

HOYER_EPSILON = _data["hoyerEpsilon"]
TV = _data["vectors"]
