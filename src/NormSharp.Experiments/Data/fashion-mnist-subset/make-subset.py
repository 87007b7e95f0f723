#!/usr/bin/env python3
"""Builds the embedded Fashion-MNIST subset from the full IDX files (Python 3 standard library only).

Usage: python3 make-subset.py [SOURCE_DIR] [OUT_DIR] [TRAIN_PER_CLASS]
  SOURCE_DIR       default /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)
  OUT_DIR          default: the folder of this script
  TRAIN_PER_CLASS  default 600 (the embedded subset); 2000 made the 20,000-image set measured against it

Takes a stratified sample: TRAIN_PER_CLASS images of each class from the training set and
TEST_PER_CLASS of each class from the test set, chosen with random.Random(SEED), kept in their
original order, written as gzip-compressed IDX files with the standard names. The output is
byte-for-byte reproducible (fixed gzip mtime and level).
"""
import gzip
import os
import random
import struct
import sys

SEED = 20150211  # the batch norm paper's arXiv date
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, = struct.unpack(">i", data[:4])
    assert got == magic, f"{path}: magic {got:#010x}, expected {magic:#010x}"
    rank = magic & 0xFF
    dims = struct.unpack(">" + "i" * rank, data[4:4 + 4 * rank])
    return dims, data[4 + 4 * rank:]


def write_idx(path, magic, dims, payload):
    header = struct.pack(">i", magic) + struct.pack(">" + "i" * len(dims), *dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(header + payload)


def subset(src, out, prefix, per_class, rng):
    (count, rows, cols), pixels = read_idx(os.path.join(src, f"{prefix}-images-idx3-ubyte.gz"), 0x803)
    (label_count,), labels = read_idx(os.path.join(src, f"{prefix}-labels-idx1-ubyte.gz"), 0x801)
    assert count == label_count
    by_class = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    chosen = sorted(i for c in sorted(by_class) for i in rng.sample(by_class[c], per_class))
    size = rows * cols
    write_idx(os.path.join(out, f"{prefix}-images-idx3-ubyte.gz"), 0x803, (len(chosen), rows, cols),
              b"".join(pixels[i * size:(i + 1) * size] for i in chosen))
    write_idx(os.path.join(out, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, (len(chosen),),
              bytes(labels[i] for i in chosen))
    print(f"{prefix}: {len(chosen)} of {count} images, {per_class} per class")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    train_per_class = int(sys.argv[3]) if len(sys.argv) > 3 else TRAIN_PER_CLASS
    rng = random.Random(SEED)
    subset(src, out, "train", train_per_class, rng)
    subset(src, out, "t10k", TEST_PER_CLASS, rng)


if __name__ == "__main__":
    main()
