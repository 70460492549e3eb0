"""Data made from code, shared by the benchmark and the tests.

Tests may import these modules; nothing here imports from ``tests`` (the benchmark
must run from a checkout without its test suite's helpers).
"""
