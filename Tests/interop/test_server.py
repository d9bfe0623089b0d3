"""The server command itself: first-start credentials, `chainvault credentials`, rights of added keys."""
import os
import stat
import subprocess
import time

import boto3
import botocore
import pytest

from conftest import BIN, start_server, stop_server


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}


def test_first_start_generates_and_prints_root_key_once(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("CHAINVAULT_")]:
        monkeypatch.delenv(name)
    data = tmp_path / "data"
    server = start_server(data, {})
    try:
        text = "\n".join(server.lines)
        access = next(l.split(":", 1)[1].strip() for l in server.lines if l.startswith("access key id:"))
        secret = next(l.split(":", 1)[1].strip() for l in server.lines if l.startswith("secret key:"))
        assert len(access) == 20 and len(secret) == 40 and access.isalnum() and secret.isalnum()
        creds = data / ".chainvault" / "credentials.json"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        shown = subprocess.run([BIN, "credentials", "--data", str(data)], capture_output=True, text=True, env=clean_env(), check=True).stdout
        assert access in shown and secret in shown
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=access, aws_secret_access_key=secret, region_name="us-east-1")
        s3.create_bucket(Bucket="first-start")
        # serve creates the hospital's two report buckets at start: owned by the chain, not listed to root
        # (an account lists its own buckets), but root may use them by name.
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["first-start"]
        s3.head_bucket(Bucket="reports-a")

        added = subprocess.run(
            [BIN, "credentials", "add", "--read-only", "--bucket", "first-start", "--data", str(data)],
            capture_output=True, text=True, env=clean_env(), check=True,
        ).stdout
        reader_id = added.split("access key id:")[1].split()[0]
        reader_secret = added.split("secret key:")[1].split()[0]
        reader = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=reader_id, aws_secret_access_key=reader_secret, region_name="us-east-1")
        s3.put_object(Bucket="first-start", Key="k", Body=b"v")
        # The running server takes the new key once it notices the file changed (it looks at most once a second).
        deadline = time.monotonic() + 10
        while True:
            try:
                assert reader.get_object(Bucket="first-start", Key="k")["Body"].read() == b"v"
                break
            except botocore.exceptions.ClientError as error:
                assert error.response["Error"]["Code"] == "InvalidAccessKeyId" and time.monotonic() < deadline, error
                time.sleep(0.1)
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            reader.put_object(Bucket="first-start", Key="k2", Body=b"v")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert "secret" not in text.lower().replace("secret key:", "")
    finally:
        stop_server(server)
    again = start_server(data, {})
    try:
        assert not any(l.startswith("secret key:") for l in again.lines), "the root key is printed only on first start"
    finally:
        stop_server(again)


def test_invalid_options_stop_start_up(tmp_path):
    bad = subprocess.run([BIN, "serve", "--data", str(tmp_path), "--s3-port", "70000"], capture_output=True, text=True, env=clean_env())
    assert bad.returncode != 0 and "--s3-port" in bad.stderr
    half = subprocess.run([BIN, "serve", "--data", str(tmp_path), "--s3-port", "0", "--hospital-port", "0"], capture_output=True, text=True, env={**clean_env(), "CHAINVAULT_ACCESS_KEY": "ONLYTHEID"}, timeout=30)
    assert half.returncode != 0 and "CHAINVAULT_SECRET_KEY" in half.stderr
