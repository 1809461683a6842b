"""Decide: objectives, the Pareto frontier, the recommendation, the recipe search and the
workflows that pick the most efficient model that is good enough.

Layer 8: imports every layer below.
"""
