"""Multipart uploads, ranged parallel downloads, copy, batch delete, presigned URLs: the S3 subset
that real tools use with their default settings, over HTTP and HTTPS. Every test compares bytes."""
import hashlib
import json
import urllib.request

import boto3
import botocore
import pytest

from conftest import client_env, random_file, run, tool

MIB = 1024 * 1024


def aws(server, home, *args, check=True):
    extra = ["--ca-bundle", server.ca_bundle] if server.ca_bundle else []
    return run([tool("aws"), "--endpoint-url", server.endpoint, *extra, *args], client_env(home, server), check=check)


def boto(server, **config):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        region_name="us-east-1", verify=server.ca_bundle if server.ca_bundle else None,
        config=botocore.config.Config(**config) if config else None,
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_aws_cli_multipart_up_and_parallel_ranged_down(scheme, server, tls_server, home, tmp_path):
    s = tls_server if scheme == "https" else server
    bucket = s.bucket("awsmp")
    data = random_file(tmp_path / "big.bin", 20 * MIB + 123)
    aws(s, home, "s3", "mb", f"s3://{bucket}")
    aws(s, home, "s3", "cp", "--only-show-errors", str(tmp_path / "big.bin"), f"s3://{bucket}/big.bin")
    head = json.loads(aws(s, home, "s3api", "head-object", "--bucket", bucket, "--key", "big.bin").stdout)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3"), "the aws CLI uploads 20 MiB in three 8 MiB parts"
    aws(s, home, "s3", "cp", "--only-show-errors", f"s3://{bucket}/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    assert (s.data / bucket / "big.bin").read_bytes() == data

    # copy-object REPLACE onto itself keeps the bytes (rclone updates mtimes this way).
    aws(s, home, "s3api", "copy-object", "--bucket", bucket, "--key", "big.bin", "--copy-source", f"{bucket}/big.bin",
        "--metadata-directive", "REPLACE", "--content-type", "application/x-replaced")
    head = json.loads(aws(s, home, "s3api", "head-object", "--bucket", bucket, "--key", "big.bin").stdout)
    assert head["ContentType"] == "application/x-replaced"
    assert (s.data / bucket / "big.bin").read_bytes() == data

    # list-parts and abort on an upload left open.
    upload = json.loads(aws(s, home, "s3api", "create-multipart-upload", "--bucket", bucket, "--key", "open").stdout)["UploadId"]
    (tmp_path / "part").write_bytes(b"p" * 1000)
    aws(s, home, "s3api", "upload-part", "--bucket", bucket, "--key", "open", "--upload-id", upload, "--part-number", "1", "--body", str(tmp_path / "part"))
    parts = json.loads(aws(s, home, "s3api", "list-parts", "--bucket", bucket, "--key", "open", "--upload-id", upload).stdout)
    assert [p["Size"] for p in parts["Parts"]] == [1000]
    uploads = json.loads(aws(s, home, "s3api", "list-multipart-uploads", "--bucket", bucket).stdout)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [upload]
    aws(s, home, "s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "open", "--upload-id", upload)
    gone = aws(s, home, "s3api", "list-parts", "--bucket", bucket, "--key", "open", "--upload-id", upload, check=False)
    assert gone.returncode != 0 and b"NoSuchUpload" in gone.stderr

    # delete-objects, then the bucket is empty.
    aws(s, home, "s3api", "put-object", "--bucket", bucket, "--key", "small", "--body", str(tmp_path / "part"))
    result = json.loads(aws(s, home, "s3api", "delete-objects", "--bucket", bucket, "--delete", '{"Objects":[{"Key":"big.bin"},{"Key":"small"}]}').stdout)
    assert sorted(d["Key"] for d in result["Deleted"]) == ["big.bin", "small"]
    aws(s, home, "s3", "rb", f"s3://{bucket}")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_boto3_transfer_and_presigned(scheme, server, tls_server, tmp_path):
    s = tls_server if scheme == "https" else server
    s3 = boto(s)
    bucket = s.bucket("botomp")
    s3.create_bucket(Bucket=bucket)
    data = random_file(tmp_path / "up.bin", 20 * MIB + 5)
    s3.upload_file(str(tmp_path / "up.bin"), bucket, "dir/up.bin")
    s3.download_file(bucket, "dir/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data
    # A checksum sent by the SDK (a header over HTTP, an aws-chunked trailer over HTTPS) is stored and returned.
    s3.put_object(Bucket=bucket, Key="small", Body=b"checksummed body")
    got = s3.get_object(Bucket=bucket, Key="small", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checksummed body"
    assert "ChecksumCRC32" in got or "ChecksumCRC64NVME" in got or "ChecksumCRC32C" in got

    # Presigned URLs with default settings (Signature Version 2 in us-east-1) and with s3v4, used by plain HTTP.
    context = None
    if s.ca_bundle:
        import ssl

        context = ssl.create_default_context(cafile=s.ca_bundle)
    for client in [s3, boto(s, signature_version="s3v4")]:
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "small"}, ExpiresIn=300)
        assert urllib.request.urlopen(url, context=context).read() == b"checksummed body"
        put = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned-put"}, ExpiresIn=300)
        request = urllib.request.Request(put, data=b"via presigned PUT", method="PUT", headers={"Content-Type": ""})
        assert urllib.request.urlopen(request, context=context).status == 200
        assert s3.get_object(Bucket=bucket, Key="presigned-put")["Body"].read() == b"via presigned PUT"


def test_aws_presign_and_curl(server, home, tmp_path):
    bucket = server.bucket("presign")
    s3 = boto(server)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report 1.pdf", Body=b"%PDF presigned")
    url = aws(server, home, "s3", "presign", f"s3://{bucket}/report 1.pdf", "--expires-in", "300").stdout.decode().strip()
    assert run([tool("curl"), "-sS", "--fail", url], client_env(home)).stdout == b"%PDF presigned"
    expired = aws(server, home, "s3", "presign", f"s3://{bucket}/report 1.pdf", "--expires-in", "1").stdout.decode().strip()
    forged = url.replace("report%201.pdf", "other.pdf")
    out = run([tool("curl"), "-sS", forged], client_env(home)).stdout.decode()
    assert "<Code>SignatureDoesNotMatch</Code>" in out
    put = boto(server, signature_version="s3v4").generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "curl-put"}, ExpiresIn=300)
    (tmp_path / "f").write_bytes(b"curl presigned put")
    run([tool("curl"), "-sS", "--fail", "-T", str(tmp_path / "f"), put], client_env(home))
    assert (server.data / bucket / "curl-put").read_bytes() == b"curl presigned put"
    del expired


def test_rclone_multipart_with_content_md5(server, home, tmp_path):
    from test_rclone import rclone

    bucket = server.bucket("rcmp")
    data = random_file(tmp_path / "src" / "thirty.bin" if (tmp_path / "src").mkdir() is None else None, 30 * MIB + 7)
    rclone(server, home, "mkdir", f"cv:{bucket}")
    rclone(server, home, "copy", "--s3-upload-cutoff", "10M", "--s3-chunk-size", "10M", str(tmp_path / "src"), f"cv:{bucket}")
    check = rclone(server, home, "check", str(tmp_path / "src"), f"cv:{bucket}")
    assert b"0 differences found" in check.stderr
    assert (server.data / bucket / "thirty.bin").read_bytes() == data
    rclone(server, home, "copyto", f"cv:{bucket}/thirty.bin", str(tmp_path / "back.bin"))
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    rclone(server, home, "purge", f"cv:{bucket}")


def test_s3cmd_multipart_and_info(server, home, tmp_path):
    from test_s3cmd import s3cmd

    bucket = server.bucket("s3cmp")
    data = random_file(tmp_path / "twenty.bin", 20 * MIB + 3)
    s3cmd(server, home, "mb", f"s3://{bucket}")
    s3cmd(server, home, "put", str(tmp_path / "twenty.bin"), f"s3://{bucket}/twenty.bin")
    etag = boto(server).head_object(Bucket=bucket, Key="twenty.bin")["ETag"]
    assert etag.strip('"').endswith("-2"), "s3cmd uploads files over 15 MiB in two parts"
    s3cmd(server, home, "get", "--force", f"s3://{bucket}/twenty.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    info = s3cmd(server, home, "info", f"s3://{bucket}").stdout.decode()
    assert "Location" in info
    s3cmd(server, home, "del", f"s3://{bucket}/twenty.bin")
    s3cmd(server, home, "rb", f"s3://{bucket}")


def test_minio_py(server, tmp_path):
    from minio import Minio

    client = Minio(server.hostport, access_key=server.access_key, secret_key=server.secret_key, secure=False, region="us-east-1")
    bucket = server.bucket("minio")
    client.make_bucket(bucket)
    data = random_file(tmp_path / "m.bin", 20 * MIB + 11)
    client.fput_object(bucket, "m.bin", str(tmp_path / "m.bin"))
    client.fget_object(bucket, "m.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    assert [o.object_name for o in client.list_objects(bucket)] == ["m.bin"]
    client.remove_object(bucket, "m.bin")
    client.remove_bucket(bucket)
