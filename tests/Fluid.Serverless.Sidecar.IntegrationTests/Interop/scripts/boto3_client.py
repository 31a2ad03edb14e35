"""boto3 against the sidecar with the SDK's current defaults (checksum validation when supported).

Usage: boto3_client.py ENDPOINT BUCKET COMMAND ARGS...
  download_file KEY DEST   managed transfer: HEAD, then ranged GETs pinned with If-Match for objects >= 8 MiB
  get_range KEY FIRST LAST get_object with Range: bytes=FIRST-LAST; prints the SHA-256 of the body
  get KEY                  get_object of the whole object; prints the SHA-256 of the body
  list PREFIX              every key under PREFIX (paginated ListObjectsV2), one per line as KEY<TAB>SIZE
Prints results on stdout; any error exits non-zero with boto3's message.
"""
import hashlib
import sys

import boto3
from boto3.s3.transfer import TransferConfig


def main() -> int:
    endpoint, bucket, command, *args = sys.argv[1:]
    s3 = boto3.client("s3", endpoint_url=endpoint)
    if command == "download_file":
        key, destination = args
        # Small parts so the 8 MiB object becomes several concurrent ranged GETs, each pinned by If-Match.
        config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=1024 * 1024, max_concurrency=4)
        s3.download_file(bucket, key, destination, Config=config)
    elif command == "get_range":
        key, first, last = args
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")
        body = response["Body"].read()
        print(response["ResponseMetadata"]["HTTPStatusCode"], response["ContentRange"], hashlib.sha256(body).hexdigest())
    elif command == "get":
        (key,) = args
        response = s3.get_object(Bucket=bucket, Key=key)
        print(hashlib.sha256(response["Body"].read()).hexdigest())
    elif command == "list":
        (prefix,) = args
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 2}):
            for entry in page.get("Contents", []):
                print(f"{entry['Key']}\t{entry['Size']}")
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
