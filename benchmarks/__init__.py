"""Benchmarks of wfdsl against its peers and the practical limit .

Run `python -m benchmarks` (full size, several minutes) or `python -m benchmarks --tiny`.
"""
