"""Regenerates the bundled example model: examples/digits-cnn.pt and examples/digits-cnn.onnx.

    /usr/bin/python3 scripts/make_example_model.py [--out DIR]

Runs examples/train_digits.py (the readable training script users see in VS Code) with a fixed
seed; a few seconds on two CPU cores. Needs torch, onnx and scikit-learn (Debian: python3-torch,
python3-onnx, python3-sklearn), nothing from the network.
"""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, '..', 'examples', 'train_digits.py')

if __name__ == '__main__':
    sys.argv = [SCRIPT] + sys.argv[1:]
    runpy.run_path(SCRIPT, run_name='__main__')
