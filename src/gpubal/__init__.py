"""gpubal: a read-only doctor for multi-GPU Linux hosts."""

__version__ = "0.1.0"
