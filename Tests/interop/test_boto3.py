"""boto3 with default settings: put/get/head/list (paginator over 1200 keys)/delete, and error codes."""
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore
import botocore.config
import pytest


def test_boto3_objects(server, s3):
    bucket = server.bucket("boto")
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(2 * 1024 * 1024 + 3)
    put = s3.put_object(Bucket=bucket, Key="reports/2026/r 1+2.pdf", Body=body, ContentType="application/pdf", Metadata={"patient": "p-7"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="reports/2026/r 1+2.pdf")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/pdf"
    assert got["Metadata"] == {"patient": "p-7"}
    head = s3.head_object(Bucket=bucket, Key="reports/2026/r 1+2.pdf")
    assert head["ContentLength"] == len(body)
    part = s3.get_object(Bucket=bucket, Key="reports/2026/r 1+2.pdf", Range="bytes=100-199")
    assert part["Body"].read() == body[100:200] and part["ContentRange"] == f"bytes 100-199/{len(body)}"
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] in (None, "")
    s3.delete_object(Bucket=bucket, Key="reports/2026/r 1+2.pdf")
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="reports/2026/r 1+2.pdf")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as head_missing:
        s3.head_object(Bucket=bucket, Key="nothing")
    assert head_missing.value.response["Error"]["Code"] == "404"
    s3.delete_bucket(Bucket=bucket)


def test_boto3_paginates_1200_keys(server, s3):
    bucket = server.bucket("page")
    s3.create_bucket(Bucket=bucket)
    keys = [f"k/{i:05d}+{'x' if i % 2 else 'y'} z" for i in range(1200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    listed = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        pages += 1
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert pages == 2
    assert listed == sorted(keys)
    v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 500}) for o in page.get("Contents", [])]
    assert v1 == sorted(keys)
    delimited = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in delimited["CommonPrefixes"]] == ["k/"]
    assert s3.get_object(Bucket=bucket, Key=keys[7])["Body"].read() == keys[7].encode()
    with pytest.raises(botocore.exceptions.ClientError) as not_empty:
        s3.delete_bucket(Bucket=bucket)
    assert not_empty.value.response["Error"]["Code"] == "BucketNotEmpty"
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.delete_object(Bucket=bucket, Key=k), keys))
    s3.delete_bucket(Bucket=bucket)


def test_boto3_error_codes(server, s3):
    bucket = server.bucket("errs")
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as owned:
        s3.create_bucket(Bucket=bucket)
    assert owned.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    with pytest.raises(botocore.exceptions.ClientError) as no_bucket:
        s3.put_object(Bucket=server.bucket("missing"), Key="k", Body=b"x")
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"
    bad = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key, aws_secret_access_key="wrong", region_name="us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert denied.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id="NOSUCHKEY00000000000", aws_secret_access_key="x", region_name="us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as invalid:
        unknown.list_buckets()
    assert invalid.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    # boto3 presigns with Signature Version 2 unless told otherwise; ChainVault, like current AWS regions, takes V4 only.
    v4 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=botocore.config.Config(signature_version="s3v4"),
    )
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    s3.put_object(Bucket=bucket, Key="k", Body=b"presigned body")
    import urllib.request

    assert urllib.request.urlopen(url).read() == b"presigned body"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
