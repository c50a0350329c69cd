"""Benchmarks: `make bench` prints their figures."""
