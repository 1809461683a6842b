"""Efficiency Lab."""
