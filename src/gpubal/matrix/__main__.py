"""`python -m gpubal.matrix`: regenerate data/matrix-cache.json after editing data/*.toml."""

from .loading import CACHE_FILE, write_cache

write_cache()
print(f"wrote {CACHE_FILE}")
