"""Crossbar Lens PyTorch engine: the D.U.B. regularizer, D.U.B./unstructured pruning, masked fine-tuning.

Run `python3 -m crossbar_lens_train --help` (with python/ on PYTHONPATH). Spec: docs/method.md.
"""
__version__ = "0.1.0"
