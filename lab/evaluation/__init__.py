"""Evaluation: model kinds behind one contract (:mod:`lab.evaluation.kinds`) and the one
measurement pipeline over them (:mod:`lab.evaluation.measure`).

Layer 7: imports every layer below.
"""
