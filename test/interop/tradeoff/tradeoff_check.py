"""Helper of tradeoff.test.ts (Debian's /usr/bin/python3 with torch and scikit-learn).

  make-npz OUT          the digits with examples/train_digits.py's own split (train_test_split, 20 %,
                        stratified, random_state 0): x/y the training images, x_test/y_test the 359
                        held-out images, so both engines evaluate on the images the example was tested on
  evaluate CKPT NPZ     held-out accuracy of examples/train_digits.py's DigitsCNN with the state dict of
                        CKPT (a file `crossbar-lens prune` wrote) on NPZ's x_test, by a plain torch forward
                        pass, independent of the engines; prints JSON {accuracy, correct, total}
"""
import json
import os
import runpy
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
EXAMPLE = runpy.run_path(os.path.join(REPO, "examples", "train_digits.py"))  # DigitsCNN, load_data; main() does not run


def make_npz(out):
    x_train, y_train, x_test, y_test = EXAMPLE["load_data"]()
    np.savez(out, x=x_train.numpy(), y=y_train.numpy(), x_test=x_test.numpy(), y_test=y_test.numpy())
    print(json.dumps({"train": len(y_train), "test": len(y_test)}))


def evaluate(ckpt, npz):
    blob = torch.load(ckpt, map_location="cpu")  # written by this test from the example: trusted
    state = blob["model"] if "model" in blob else blob
    model = EXAMPLE["DigitsCNN"]()
    model.load_state_dict(state)
    model.eval()
    data = np.load(npz)
    with torch.no_grad():
        predicted = model(torch.from_numpy(data["x_test"])).argmax(1).numpy()
    correct = int((predicted == data["y_test"]).sum())
    print(json.dumps({"accuracy": 100.0 * correct / len(predicted), "correct": correct, "total": len(predicted)}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "make-npz":
        make_npz(sys.argv[2])
    elif sys.argv[1] == "evaluate":
        evaluate(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
