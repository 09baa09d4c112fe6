"""Benchmarks: each module runs with ``python -m benchmarks.<name>`` and prints its figures beside a
raw baseline measured in the same run. They are never run by the test suite."""
