"""Graceful stop: SIGTERM in the middle of a slow upload lets it finish (200, the whole object on
disk), refuses new connections meanwhile, and the server exits 0."""
import http.client
import signal
import socket
import time
from urllib.parse import urlsplit

import boto3

from conftest import start_server


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
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        # Stopping: no new connections are accepted.
        try:
            socket.create_connection((url.hostname, url.port), timeout=5).close()
            accepted = True
        except OSError:
            accepted = False
        assert not accepted, "a stopping server accepts no new connection"
        connection.send(body[len(body) // 2:])
        response = connection.getresponse()
        assert response.status == 200, response.read()
        assert server.process.wait(timeout=30) == 0
        assert (tmp_path / "data" / "slow" / "report.bin").read_bytes() == body
    finally:
        if server.process.poll() is None:
            server.process.kill()
