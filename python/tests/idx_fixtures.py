"""IDX files (MNIST's format) for the dataset tests: real headers, deterministic pixels (the same
fixtures as test/unit/training/idxWriter.ts)."""
import gzip
import os

import numpy as np


def idx_bytes(dims, values, dtype_code=0x08):
    """`00 00 <type> <rank>`, the dimensions big-endian, then the bytes."""
    header = bytes([0, 0, dtype_code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + np.asarray(values, dtype=np.uint8).tobytes()


def images_and_labels(count, rows=4, columns=3):
    """Pixel (i, p) = (7 i + p) mod 256, label i mod 10: the same fixtures as the TypeScript tests."""
    size = rows * columns
    pixels = (7 * np.arange(count)[:, None] + np.arange(size)[None, :]) % 256
    return idx_bytes([count, rows, columns], pixels.ravel()), idx_bytes([count], np.arange(count) % 10)


def write_idx_folder(folder, gz=False, train=30, test=10, rows=4, columns=3, replace=None):
    """The four official files; `replace` swaps one file's bytes (before gzip) by role. Returns the paths by role."""
    os.makedirs(folder, exist_ok=True)
    tr, te = images_and_labels(train, rows, columns), images_and_labels(test, rows, columns)
    files = {"train-images": tr[0], "train-labels": tr[1], "t10k-images": te[0], "t10k-labels": te[1]}
    paths = {}
    for role, content in files.items():
        content = (replace or {}).get(role, content)
        name = f"{role}-idx{3 if role.endswith('images') else 1}-ubyte" + (".gz" if gz else "")
        paths[role] = os.path.join(folder, name)
        with open(paths[role], "wb") as f:
            f.write(gzip.compress(content) if gz else content)
    return paths
