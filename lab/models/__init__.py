"""Models: architectures, the zoo, model families sized by the data, training, thin
(scikit-learn) models and the interface check.

Layer 3: imports meters and datasets.
"""
