"""Hotline benchmarks: they print figures and write JSON; they are not tests.

Run them with ``make bench`` (everything) or the targets in the Makefile; the figures,
the commands and the machine are written up in docs/benchmarks.md.
"""
