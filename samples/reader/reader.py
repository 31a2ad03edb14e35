#!/usr/bin/env python3
"""A PyTorch-style data reader that reads one dataset two ways and proves they agree.

The same files are read through the file path (the shared volume the sidecar fills: FUSE or copy mode) and
through the S3 endpoint the injector advertises in AWS_ENDPOINT_URL_S3 (the sidecar on 127.0.0.1). Each way
is a map-style dataset (``__len__``/``__getitem__``, like ``torch.utils.data.Dataset``) consumed by a small
multi-worker batch loader (like ``torch.utils.data.DataLoader``). Every file's SHA-256 is printed for both ways;
the exit code is 0 only when both ways list the same files with the same bytes.

Only the standard library and boto3. Environment (all optional):
  DATA_DIR             the dataset's mount path                       (default /data)
  DATASET_BUCKET       the dataset's bucket name on the S3 endpoint   (default: the last part of DATA_DIR)
  DATASET_PREFIX       a key prefix inside the bucket                 (default: the whole bucket)
  AWS_ENDPOINT_URL_S3  the S3 endpoint (set by the injector)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CHUNK = 1024 * 1024
# Copy-mode bookkeeping that older sidecars wrote next to the data (now on the cache volume): never dataset files.
SIDECAR_MARKERS = (".fluid-ready", ".fluid-copied")
PARTIAL_SUFFIX = ".fluid-partial"


class FileDataset:
    """Map-style dataset over the files below a directory; an item is (relative path, sha256 hex, size)."""

    def __init__(self, root: str, prefix: str = "") -> None:
        self.root = root
        base = os.path.join(root, prefix) if prefix else root
        paths = []
        for directory, _, files in os.walk(base):
            for name in files:
                if name in SIDECAR_MARKERS or name.endswith(PARTIAL_SUFFIX):
                    continue
                paths.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/"))
        self.paths = sorted(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, str, int]:
        path = self.paths[index]
        digest, size = hashlib.sha256(), 0
        with open(os.path.join(self.root, path), "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return path, digest.hexdigest(), size


class S3Dataset:
    """Map-style dataset over the objects of a bucket (under a prefix); an item is (key, sha256 hex, size)."""

    def __init__(self, client, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket = client, bucket
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/"))
        self.keys = sorted(keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[str, str, int]:
        key = self.keys[index]
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        digest, size = hashlib.sha256(), 0
        for chunk in body.iter_chunks(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return key, digest.hexdigest(), size


def batches(dataset, batch_size: int, workers: int) -> Iterator[list[tuple[str, str, int]]]:
    """Yields batches in index order, items fetched by a pool of workers (DataLoader's num_workers)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(dataset), batch_size):
            indices = range(start, min(start + batch_size, len(dataset)))
            yield list(pool.map(dataset.__getitem__, indices))


def s3_client(endpoint: str | None):
    session = boto3.session.Session()
    # Pod-local credentials when the pod has them (a strict sidecar needs them); otherwise anonymous: the sidecar's
    # default posture serves unsigned reads of datasets.
    signed = session.get_credentials() is not None
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                    signature_version=None if signed else UNSIGNED)
    return session.client("s3", endpoint_url=endpoint, config=config,
                          region_name=session.region_name or "us-east-1")


def read_all(name: str, dataset, batch_size: int, workers: int,
             out: Callable[[str], None]) -> dict[str, tuple[str, int]]:
    started, result, total = time.monotonic(), {}, 0
    for batch in batches(dataset, batch_size, workers):
        for path, sha, size in batch:
            result[path] = (sha, size)
            total += size
    elapsed = max(time.monotonic() - started, 1e-9)
    out(f"{name}: {len(result)} files, {total} bytes in {elapsed:.2f} s ({total / elapsed / 1e6:.1f} MB/s)")
    return result


def compare(by_file: dict[str, tuple[str, int]], by_s3: dict[str, tuple[str, int]],
            out: Callable[[str], None]) -> int:
    mismatches = 0
    for path in sorted(set(by_file) | set(by_s3)):
        file_sha = by_file.get(path, ("<missing>", 0))[0]
        s3_sha = by_s3.get(path, ("<missing>", 0))[0]
        verdict = "OK" if file_sha == s3_sha else "MISMATCH"
        mismatches += verdict != "OK"
        out(f"{verdict:8} {path}  file={file_sha}  s3={s3_sha}")
    return mismatches


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "/data"))
    parser.add_argument("--bucket", default=os.environ.get("DATASET_BUCKET"))
    parser.add_argument("--prefix", default=os.environ.get("DATASET_PREFIX", ""))
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL_S3"))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    bucket = args.bucket or os.path.basename(os.path.normpath(args.data_dir))

    if not os.path.isdir(args.data_dir):
        print(f"reader: data directory {args.data_dir!r} does not exist (set DATA_DIR or --data-dir)", file=sys.stderr)
        return 2
    if not args.endpoint:
        print("reader: no S3 endpoint: AWS_ENDPOINT_URL_S3 is not set (the injector sets it) and --endpoint was not "
              "given", file=sys.stderr)
        return 2

    print(f"reader: file path {args.data_dir}, S3 endpoint {args.endpoint} bucket {bucket!r} prefix {args.prefix!r}")
    by_file = read_all("file path", FileDataset(args.data_dir, args.prefix), args.batch_size, args.workers, print)
    try:
        by_s3 = read_all("S3 endpoint", S3Dataset(s3_client(args.endpoint), bucket, args.prefix),
                         args.batch_size, args.workers, print)
    except (ClientError, BotoCoreError) as error:
        print(f"reader: reading bucket {bucket!r} through the S3 endpoint {args.endpoint} failed: {error}",
              file=sys.stderr)
        return 1
    mismatches = compare(by_file, by_s3, print)
    if not by_file and not by_s3:
        print("reader: the dataset is empty on both paths: nothing to compare", file=sys.stderr)
        return 1
    if mismatches:
        print(f"reader: {mismatches} of {len(set(by_file) | set(by_s3))} files differ between the file path and the "
              f"S3 endpoint", file=sys.stderr)
        return 1
    print(f"reader: all {len(by_file)} files have the same SHA-256 through the file path and the S3 endpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
