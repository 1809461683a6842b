"""Runtimes beyond torch: ONNX export and ONNX Runtime execution.

Layer 6: imports everything below (techniques included); :func:`lab.techniques.apply.apply`
reaches it only when asked for ``runtime="onnxruntime"``.
"""
