"""Regenerates the bundled example models:

    examples/digits-cnn.pt, examples/digits-cnn.onnx   the dense CNN (examples/train_digits.py)
    examples/digits-cnn.dub.pt                         the same CNN after D.U.B. (regularize at T=16,
                                                       prune 0/88/92 %, masked fine-tune) by the
                                                       PyTorch engine in python/crossbar_lens_train

    /usr/bin/python3 scripts/make_example_model.py [--out DIR]

Fixed seeds; well under a minute on two CPU cores. Needs torch, onnx and scikit-learn (Debian:
python3-torch, python3-onnx, python3-sklearn), nothing from the network.
"""
import os
import runpy
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..')
SCRIPT = os.path.join(ROOT, 'examples', 'train_digits.py')

if __name__ == '__main__':
    out = sys.argv[sys.argv.index('--out') + 1] if '--out' in sys.argv else os.path.join(ROOT, 'examples')
    sys.argv = [SCRIPT] + sys.argv[1:]
    runpy.run_path(SCRIPT, run_name='__main__')
    dub = os.path.join(out, 'digits-cnn.dub.pt')
    subprocess.run([
        sys.executable, '-m', 'crossbar_lens_train', 'finetune',
        '--torchvision', 'digits-cnn', '--weights', os.path.join(out, 'digits-cnn.pt'), '--data', 'digits',
        '--tile', '16', '--ratios', '0,88,92', '--epochs', '15', '--finetune-epochs', '15',
        '--lambda-var', '1e-2', '--lambda-l2', '3e-3', '--batch-size', '64', '--finetune-lr', '0.1',
        '--no-baseline', '--force', '--out', dub,
    ], check=True, stdout=subprocess.DEVNULL, env={**os.environ, 'PYTHONPATH': os.path.join(ROOT, 'python')})
    os.chmod(dub, 0o644)
    print(f'wrote {dub}')
