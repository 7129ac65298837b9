"""Schedulers that call gpubal on every node: Slurm's HealthCheckProgram (slurm)."""
