"""Creates BUCKET on an S3-compatible endpoint and uploads FILE as KEY (multipart for big files). Bench helper.

Usage: seed_remote.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET KEY FILE
"""
import sys

import boto3
from botocore.config import Config

endpoint, access_key, secret_key, bucket, key, path = sys.argv[1:]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    region_name="us-east-1",
    config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.ClientError as e:  # a second object into the same bucket
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        raise
s3.upload_file(path, bucket, key)
print(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
