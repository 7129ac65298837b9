"""Placement advice: which GPUs belong together, and the settings that put a server on them.

Pure functions of the Snapshot (no I/O), like the rules: `topology` turns pair facts into link tiers,
NVLink cliques, PCIe switch groups and NUMA domains; `groups` partitions the GPUs into groups of a size;
`advice` explains each group from the evidence and writes its settings.
"""
