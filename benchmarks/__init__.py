"""Benchmarks of wfdsl against its peers and the practical limit (SPEC §9, issue 7).

Run `python -m benchmarks` (full size, several minutes) or `python -m benchmarks --tiny`.
"""
