"""Text that users paste (nvidia-smi output, topology matrices, Ollama logs) read into facts."""
