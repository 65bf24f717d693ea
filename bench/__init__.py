"""Benchmarks: `make bench-NAME` runs `python -m bench.NAME`. Not part of `make test`."""
