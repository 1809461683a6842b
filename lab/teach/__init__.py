"""Teach: self-checking exercises for the notebooks.

Layer 9 (the top): imports every layer below.
"""
