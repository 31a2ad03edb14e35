"""Creates BUCKET on an S3 endpoint and uploads FILE as KEY (multipart for big files). Bench helper.

Usage: seed_moto.py ENDPOINT BUCKET KEY FILE
"""
import sys

import boto3
from botocore.config import Config

endpoint, bucket, key, path = sys.argv[1:]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    region_name="us-east-1",
    config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
)
s3.create_bucket(Bucket=bucket)
s3.upload_file(path, bucket, key)
print(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
