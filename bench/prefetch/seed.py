"""Seeds the prefetch bench bucket on an S3 endpoint (directly, not through the latency proxy).

Usage: seed.py ENDPOINT BUCKET SMALL_COUNT SMALL_BYTES LARGE_COUNT LARGE_BYTES OUT_DIR
Writes OUT_DIR/small.expected and OUT_DIR/large.expected: "sha256 size key" per object, keys under small/ and large/.
Content is pseudo-random and deterministic (incompressible, so no layer can cheat by compressing).
"""
import concurrent.futures
import hashlib
import io
import os
import random
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, bucket, small_count, small_bytes, large_count, large_bytes, out_dir = sys.argv[1:]
small_count, small_bytes, large_count, large_bytes = int(small_count), int(small_bytes), int(large_count), int(large_bytes)
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    region_name="us-east-1",
    config=Config(max_pool_connections=32, request_checksum_calculation="when_required", response_checksum_validation="when_required"),
)
s3.create_bucket(Bucket=bucket)


def content(seed, size):
    # randbytes() of 256 MiB overflows a C int inside CPython; build it from 1 MiB pieces.
    rng = random.Random(seed)
    piece = 1024 * 1024
    return b"".join(rng.randbytes(min(piece, size - offset)) for offset in range(0, size, piece))


def put_small(i):
    key = f"small/{i % 20:02d}/file-{i:05d}.bin"
    body = content(i, small_bytes)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"{hashlib.sha256(body).hexdigest()} {len(body)} {key}"


def put_large(i):
    key = f"large/part-{i}.bin"
    body = content(1_000_000 + i, large_bytes)
    s3.upload_fileobj(io.BytesIO(body), bucket, key, Config=TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4))
    return f"{hashlib.sha256(body).hexdigest()} {len(body)} {key}"


with concurrent.futures.ThreadPoolExecutor(16) as pool:
    small = list(pool.map(put_small, range(small_count)))
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    large = list(pool.map(put_large, range(large_count)))

for name, lines in (("small", small), ("large", large)):
    with open(os.path.join(out_dir, f"{name}.expected"), "w") as f:
        f.write("\n".join(lines) + "\n")
print(f"seeded {small_count} x {small_bytes} B and {large_count} x {large_bytes} B")
