"""Compression techniques: pruning, quantization, resolution — composed into recipes."""
