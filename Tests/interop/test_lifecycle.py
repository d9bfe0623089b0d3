"""Graceful stop: SIGTERM in the middle of a slow upload lets it finish (200, the whole object on
disk), refuses new connections meanwhile, and the server exits 0."""
import http.client
import re
import signal
import socket
import time
import urllib.request
from urllib.parse import urlsplit

import boto3

from conftest import start_server


def until(condition, message, timeout=30):
    """Asks `condition` until it holds: what the test waits for is the server's state, not a time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def in_flight(endpoint):
    """The S3 listener's requests in flight, from /-/metrics (0 while it cannot answer)."""
    try:
        with urllib.request.urlopen(endpoint + "/-/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0
    match = re.search(r"^chainvault_s3_requests_in_flight (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0


def accepts(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError:
        return False


def test_sigterm_during_a_slow_upload_lets_it_finish(tmp_path):
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "LIFECYCLEROOTKEY0001", "CHAINVAULT_SECRET_KEY": "lifecycle-secret-0123456789"})
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key, region_name="us-east-1")
        s3.create_bucket(Bucket="slow")
        url = urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": "slow", "Key": "report.bin"}, ExpiresIn=600))
        body = bytes(range(256)) * 4096  # 1 MiB
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        connection.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        connection.send(body[: len(body) // 2])
        # The upload is in flight once the server counts it (its own metrics, open on loopback).
        until(lambda: in_flight(server.endpoint) == 1, "the upload never showed as in flight")
        server.process.send_signal(signal.SIGTERM)
        # Stopping: new connections are refused while the upload goes on.
        until(lambda: not accepts(url.hostname, url.port), "a stopping server still accepts new connections")
        connection.send(body[len(body) // 2:])
        response = connection.getresponse()
        assert response.status == 200, response.read()
        assert server.process.wait(timeout=30) == 0
        assert (tmp_path / "data" / "slow" / "report.bin").read_bytes() == body
    finally:
        if server.process.poll() is None:
            server.process.kill()
