#!/usr/bin/env python3
"""Waits for moto_server, fills the remote the Dataset points at, and writes the expected SHA-256 of every file.

Usage: seed.py ENDPOINT EXPECTED_JSON. Bucket fluid-samples, prefix imagenet-mini/ (as in
samples/datasets/s3-dataset.yaml); one object outside the prefix must never appear in the pod. Then turns on
moto's request recorder (MOTO_RECORDER_FILEPATH), so only the pods' requests are recorded.
"""
import hashlib
import json
import os
import sys
import time
import urllib.request

import boto3
from botocore.config import Config

BUCKET, PREFIX = "fluid-samples", "imagenet-mini/"


def main() -> int:
    endpoint, expected_path = sys.argv[1], sys.argv[2]
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
    deadline = time.monotonic() + 30
    while True:
        try:
            client.list_buckets()
            break
        except Exception as error:  # moto still starting
            if time.monotonic() > deadline:
                print(f"seed: moto at {endpoint} did not answer in 30 s: {error}", file=sys.stderr)
                return 1
            time.sleep(0.2)
    client.create_bucket(Bucket=BUCKET)
    rng = __import__("random").Random(7)
    files = {
        "train/n01440764/img-0001.jpg": rng.randbytes(40_000),
        "train/n01440764/img-0002.jpg": rng.randbytes(1),
        "train/n01443537/img-0003.jpg": rng.randbytes(300_123),
        "val/labels.csv": b"file,label\nimg-0004.jpg,n01440764\n",
        "val/n01440764/img-0004.jpg": rng.randbytes(65_536),
        # Multi-MiB and not a multiple of the 4 MiB cache block: crosses block boundaries and ends mid-block.
        "val/shards/shard-000.bin": rng.randbytes(9 * 1024 * 1024 + 12_345),
    }
    for key, body in files.items():
        client.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=body)
    client.put_object(Bucket=BUCKET, Key="outside-the-dataset.txt", Body=b"must not be visible in the pod\n")
    expected = {key: {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)} for key, body in files.items()}
    with open(expected_path, "w") as handle:
        json.dump(expected, handle, indent=1)
    # From here on moto records every request with its headers: the test checks how the sidecar signed them.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/recorder/start-recording", method="POST"))
    print(f"seed: {len(files)} objects ({sum(len(b) for b in files.values())} bytes) in s3://{BUCKET}/{PREFIX} at {endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
