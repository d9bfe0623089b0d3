"""A client that disconnects mid-body leaves no object and no temporary file."""
import hashlib
import socket
import time

import boto3
import botocore
import botocore.config
import pytest


def test_disconnect_mid_body_stores_nothing(server):
    s3 = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        region_name="us-east-1", config=botocore.config.Config(signature_version="s3v4"),
    )
    bucket = server.bucket("partial")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"the old object")
    for key in ["fresh", "kept"]:
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
        target = url.split(server.hostport, 1)[1]
        with socket.create_connection(("127.0.0.1", int(server.hostport.split(":")[1]))) as sock:
            sock.sendall(f"PUT {target} HTTP/1.1\r\nHost: {server.hostport}\r\nContent-Length: 4000000\r\n\r\n".encode())
            sock.sendall(b"x" * 1_000_000)
        # The server notices the closed connection; poll (bounded) until the in-flight write is gone.
        tmp = server.data / ".chainvault" / "tmp"
        deadline = time.time() + 20
        while any(tmp.iterdir()) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(tmp.iterdir()), "the temporary file of the interrupted upload must be removed"
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="fresh")
    assert missing.value.response["Error"]["Code"] == "404"
    assert not (server.data / bucket / "fresh").exists()
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"the old object"
    assert hashlib.md5((server.data / bucket / "kept").read_bytes()).hexdigest() == s3.head_object(Bucket=bucket, Key="kept")["ETag"].strip('"')
    deadline = time.time() + 20
    while any(tmp.iterdir()) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(tmp.iterdir())


@pytest.mark.parametrize("length", ["-5", "abc", "1e3"])
def test_content_length_that_is_not_a_count_is_400(server, length):
    port = int(server.hostport.split(":")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"PUT /any/key HTTP/1.1\r\nHost: {server.hostport}\r\nContent-Length: {length}\r\n\r\nhello".encode())
        reply = sock.recv(200)
    assert reply.startswith(b"HTTP/1.1 400 "), reply
