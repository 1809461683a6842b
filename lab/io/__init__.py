"""Files: the compact model artifact and the result store.

Layer 5: imports meters, datasets, models and techniques.
"""
