"""Child workflows: per-chunk children, fan-out/fan-in, map-reduce, a three-level hierarchy."""
