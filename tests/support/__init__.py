"""Helpers shared by the test suite (importable as ``support`` thanks to pytest's pythonpath)."""
