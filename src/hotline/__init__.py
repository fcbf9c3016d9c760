"""Hotline: self-hosted, end-to-end encrypted video hotlines and conferences."""

__version__ = "0.1.0"
