"""A full disk, for real: the data root lives on a 16 MiB tmpfs the test mounts.

- A PUT (or UploadPart) whose declared length does not fit is refused with 507 InsufficientStorage
  before its body is read: the client never sends it.
- Two uploads that each fit but not together meet ENOSPC while streaming: 507 for the one that lost,
  its temp file gone, no partial object under its key, the other one whole.
- CompleteMultipartUpload that cannot hold the parts' copy is 507; the upload and its parts stay.
- `chain put` on a full disk exits 1 with a clear message; `chain orphans --delete` removes its chunks.
- Objects stored before are intact throughout; boto3 does not retry a 507.
"""
import http.client
import os
import subprocess
import threading
import urllib.parse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BIN, start_server, stop_server

MiB = 1024 * 1024


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "fs"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True)
    assert mounted.returncode == 0, f"the disk-full test needs to mount a tmpfs (root): {mounted.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def temp_files(data):
    return sorted(p.name for p in (data / ".chainvault" / "tmp").iterdir())


def presigned_put(s3, bucket, key):
    return urllib.parse.urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600))


def start_put(url, length):
    """Sends a presigned PUT's head with `length` declared; the caller sends the body."""
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    connection.putrequest("PUT", url.path + "?" + url.query, skip_accept_encoding=True)
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    return connection


def answer(connection):
    response = connection.getresponse()
    return response.status, response.read().decode()


def test_full_disk_is_507_with_nothing_half_written(small_fs, tmp_path):
    data = small_fs / "data"
    env = {"CHAINVAULT_ACCESS_KEY": "DISKFULLROOTKEY00001", "CHAINVAULT_SECRET_KEY": "disk-full-secret-0123456789",
           "CHAINVAULT_FREE_SPACE_RESERVE": "0"}
    server = start_server(data, env)
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key, region_name="us-east-1",
                          config=Config(retries={"mode": "standard", "max_attempts": 3}))
        s3.create_bucket(Bucket="full")
        keep = os.urandom(MiB)
        s3.put_object(Bucket="full", Key="keep", Body=keep)

        # Declared too large: refused at the head, the body never read.
        connection = start_put(presigned_put(s3, "full", "huge"), 64 * MiB)
        status, body = answer(connection)
        connection.close()
        assert status == 507 and "<Code>InsufficientStorage</Code>" in body, body
        assert temp_files(data) == []
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket="full", Key="huge", Body=b"x" * (20 * MiB))
        assert refused.value.response["Error"]["Code"] == "InsufficientStorage"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507
        assert refused.value.response["ResponseMetadata"]["RetryAttempts"] == 0, "507 is not retryable"

        # Each fits alone, not both: the loser meets ENOSPC mid-body.
        bodies = {"first": os.urandom(8 * MiB), "second": os.urandom(8 * MiB)}
        connections = {key: start_put(presigned_put(s3, "full", key), len(body)) for key, body in bodies.items()}
        for key, connection in connections.items():
            connection.send(bodies[key][:MiB])
        results = {}

        def finish(key):
            try:
                connections[key].send(bodies[key][MiB:])
            except OSError:
                pass  # the server answered and closed while the body was still going out
            results[key] = answer(connections[key])

        threads = [threading.Thread(target=finish, args=(key,)) for key in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        statuses = {key: result[0] for key, result in results.items()}
        assert 507 in statuses.values() and set(statuses.values()) <= {200, 507}, results
        for key, (status, text) in results.items():
            if status == 507:
                assert "<Code>InsufficientStorage</Code>" in text
                with pytest.raises(ClientError) as missing:
                    s3.head_object(Bucket="full", Key=key)
                assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404, "no partial object"
            else:
                assert s3.get_object(Bucket="full", Key=key)["Body"].read() == bodies[key]
                s3.delete_object(Bucket="full", Key=key)
        assert temp_files(data) == [], "the loser's temp file is removed"
        assert s3.get_object(Bucket="full", Key="keep")["Body"].read() == keep

        # Multipart: parts fit, their copy into the object does not.
        upload = s3.create_multipart_upload(Bucket="full", Key="parts")["UploadId"]
        parts = [os.urandom(5 * MiB), os.urandom(3 * MiB)]
        etags = [s3.upload_part(Bucket="full", Key="parts", UploadId=upload, PartNumber=n + 1, Body=part)["ETag"]
                 for n, part in enumerate(parts)]
        with pytest.raises(ClientError) as part_refused:
            s3.upload_part(Bucket="full", Key="parts", UploadId=upload, PartNumber=3, Body=os.urandom(8 * MiB))
        assert part_refused.value.response["Error"]["Code"] == "InsufficientStorage"
        with pytest.raises(ClientError) as complete_refused:
            s3.complete_multipart_upload(Bucket="full", Key="parts", UploadId=upload, MultipartUpload={
                "Parts": [{"PartNumber": n + 1, "ETag": etag} for n, etag in enumerate(etags)]})
        assert complete_refused.value.response["Error"]["Code"] == "InsufficientStorage"
        listed = s3.list_parts(Bucket="full", Key="parts", UploadId=upload)["Parts"]
        assert [p["Size"] for p in listed] == [5 * MiB, 3 * MiB], "the upload and its parts are kept for a retry"
        assert "Contents" not in s3.list_objects_v2(Bucket="full", Prefix="parts")
        s3.abort_multipart_upload(Bucket="full", Key="parts", UploadId=upload)
        assert temp_files(data) == []
        assert s3.get_object(Bucket="full", Key="keep")["Body"].read() == keep
    finally:
        stop_server(server)

    # A chain write that runs out of space: exit 1, nothing indexed, the chunks written are removable orphans.
    chain_env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    report = tmp_path / "report.bin"
    report.write_bytes(os.urandom(24 * MiB))
    put = subprocess.run([BIN, "chain", "put", "--data", str(data), str(report)], capture_output=True, text=True, env=chain_env, timeout=300)
    assert put.returncode == 1 and "no space left" in put.stderr, put.stderr
    orphans = subprocess.run([BIN, "chain", "orphans", "--data", str(data)], capture_output=True, text=True, env=chain_env, timeout=300)
    written = int(orphans.stdout.splitlines()[-1].split()[0])
    assert written > 0, orphans.stdout
    young = subprocess.run([BIN, "chain", "orphans", "--data", str(data), "--delete"], capture_output=True, text=True, env=chain_env, timeout=300)
    assert f"0 orphan objects deleted, {written} younger than 3600 s kept" in young.stdout, "a write may still be running"
    removed = subprocess.run([BIN, "chain", "orphans", "--data", str(data), "--delete", "--min-age", "0"],
                             capture_output=True, text=True, env=chain_env, timeout=300)
    assert f"{written} orphan objects deleted, 0 younger" in removed.stdout, removed.stdout
    # Only the audit ledger's checkpoint copy stays: a reserved key, never an orphan.
    for bucket in ("reports-a", "reports-b"):
        assert [path.name for path in (data / bucket).iterdir()] in ([], ["chainvault-audit-checkpoint"]), bucket
    assert temp_files(data) == []
    assert (data / "full" / "keep").read_bytes() == keep
