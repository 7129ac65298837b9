"""Reading the packaged matrix: data/*.toml, or the parsed cache of them, validated once per process."""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from typing import Any, Dict, Mapping

from .rows import Matrix
from .schema import MATRIX_FILES, MatrixError, parse_matrix


DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CACHE_FILE = os.path.join(DATA_DIR, "matrix-cache.json")


def read_matrix_documents() -> Dict[str, Dict[str, Any]]:
    """The package's own data/*.toml files, parsed (the only I/O in this module).

    The TOML files are the source of truth. Parsing them with the pure-Python TOML reader costs ~15 ms
    here and ~100 ms on a slow VM, so `python -m gpubal.matrix` stores the parsed documents in
    data/matrix-cache.json with each TOML file's CRC-32; when every hash still matches, the cache is read
    instead (json is C). A stale or missing cache only costs the time: the TOML is parsed again."""
    texts = {stem: _read_data(f"{stem}.toml") for stem in MATRIX_FILES}
    hashes = fingerprints(texts)
    try:
        with open(CACHE_FILE, encoding="utf-8") as handle:
            cache = json.load(handle)
        if cache.get("crc32") == hashes:
            return cache["documents"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    return _parse_documents(texts)


def fingerprints(texts: Mapping[str, str]) -> Dict[str, int]:
    """A CRC-32 of each TOML file: enough to see that one was edited (this is no defence against anyone),
    and zlib is at hand where hashlib would cost an import at every start."""
    import zlib

    return {stem: zlib.crc32(text.encode("utf-8")) for stem, text in texts.items()}


def _read_data(name: str) -> str:
    with open(os.path.join(DATA_DIR, name), encoding="utf-8") as handle:
        return handle.read()


def _parse_documents(texts: Mapping[str, str]) -> Dict[str, Dict[str, Any]]:
    if sys.version_info >= (3, 11):
        import tomllib as _toml
    else:  # pragma: no cover - exercised on 3.9/3.10 only
        import tomli as _toml

    documents: Dict[str, Dict[str, Any]] = {}
    for stem, text in texts.items():
        try:
            documents[stem] = _toml.loads(text)
        except _toml.TOMLDecodeError as exc:
            raise MatrixError(f"{stem}.toml: {exc}") from None
    return documents


def write_cache() -> None:
    """Regenerate data/matrix-cache.json from the TOML files (after editing them)."""
    texts = {stem: _read_data(f"{stem}.toml") for stem in MATRIX_FILES}
    documents = _parse_documents(texts)
    parse_matrix(documents)  # never cache data that does not validate
    cache = {"crc32": fingerprints(texts),
             "documents": documents}
    with open(CACHE_FILE, "w", encoding="utf-8") as handle:
        json.dump(cache, handle, indent=0, sort_keys=True)
        handle.write("\n")


@lru_cache(maxsize=1)
def load_matrix() -> Matrix:
    """The packaged matrix, validated (read once per process)."""
    return parse_matrix(read_matrix_documents())
