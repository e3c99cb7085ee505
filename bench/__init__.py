"""Benchmarks of the exporter (issues 7 and 9), run from bench/README.md.

Not tests: they print tables and ratios against the targets and are run by
hand (``make bench``); tests/process/test_bench_smoke.py runs each at toy size so CI
proves they still work.
"""
