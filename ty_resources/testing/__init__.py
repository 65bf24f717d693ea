"""Test support that speaks the real protocols on 127.0.0.1 (used by tests and benchmarks)."""
