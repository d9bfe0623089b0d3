"""Attacks a single request or a handful of idle connections could make, each against a live server:
deeply nested XML, DTDs, slowloris connections, forged log lines, oversized bodies and metadata,
a typo'd data root and a missing keyring. The server must answer each with a clear error, stay up and
keep serving honest clients."""
import hashlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import BIN, start_server, stop_server

SECRET = "hardening-secret-0123456789"
KEY = "HARDENINGROOTKEY0001"


def signed(server, method, path, body=b"", headers=None, secret=SECRET):
    """Sends a SigV4-signed request with exactly these bytes; returns (status, body)."""
    url = server.endpoint + path
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(Credentials(KEY, secret), "s3", "us-east-1").add_auth(request)
    sent = urllib.request.Request(url, method=method, data=body, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(sent, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def alive(server):
    with urllib.request.urlopen(server.endpoint + "/-/health/live", timeout=10) as response:
        return response.status == 200


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    data = tmp_path_factory.mktemp("hardening")
    log = data.parent / (data.name + ".log")
    server = start_server(data / "data", {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET}, stderr_path=log)
    server.log = log
    s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
    s3.create_bucket(Bucket="hard")
    s3.put_object(Bucket="hard", Key="keep.txt", Body=b"still here")
    server.s3 = s3
    yield server
    stop_server(server)


def nested(depth, inner=b"<Object><Key>keep.txt</Key></Object>"):
    return b"<Delete>" + b"<a>" * depth + inner + b"</a>" * depth + b"</Delete>"


def test_deeply_nested_delete_objects_is_malformed_xml_and_the_server_lives(hard):
    body = nested(50_000)
    assert len(body) < 2 * 1024 * 1024
    status, answer = signed(hard, "POST", "/hard?delete", body, {"Content-MD5": __import__("base64").b64encode(hashlib.md5(body).digest()).decode()})
    assert status == 400 and b"<Code>MalformedXML</Code>" in answer
    assert alive(hard)
    assert hard.s3.get_object(Bucket="hard", Key="keep.txt")["Body"].read() == b"still here"


def test_deeply_nested_complete_multipart_upload_is_malformed_xml(hard):
    upload = hard.s3.create_multipart_upload(Bucket="hard", Key="multi")["UploadId"]
    body = b"<CompleteMultipartUpload>" + b"<Part>" * 50_000 + b"</Part>" * 50_000 + b"</CompleteMultipartUpload>"
    status, answer = signed(hard, "POST", f"/hard/multi?uploadId={upload}", body)
    assert status == 400 and b"<Code>MalformedXML</Code>" in answer
    assert alive(hard)


def test_a_doctype_is_refused_before_any_entity_is_expanded(hard):
    entities = b"".join(b'<!ENTITY e%d "&e%d;&e%d;">' % (i, i - 1, i - 1) for i in range(1, 30))
    body = b'<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY e0 "boom">' + entities + b"]><Delete><Object><Key>&e29;</Key></Object></Delete>"
    started = time.monotonic()
    status, answer = signed(hard, "POST", "/hard?delete", body)
    assert status == 400 and b"<Code>MalformedXML</Code>" in answer
    assert time.monotonic() - started < 5
    assert alive(hard)


def test_an_xml_body_over_its_limit_is_max_message_length_exceeded_not_a_500(hard):
    body = b"<Delete>" + b" " * (2 * 1024 * 1024 + 10) + b"</Delete>"
    status, answer = signed(hard, "POST", "/hard?delete", body)
    assert status == 400 and b"<Code>MaxMessageLengthExceeded</Code>" in answer


def test_user_metadata_over_2_kb_is_metadata_too_large(hard):
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        hard.s3.put_object(Bucket="hard", Key="meta", Body=b"x", Metadata={"big": "v" * 2100})
    assert refused.value.response["Error"]["Code"] == "MetadataTooLarge"
    hard.s3.put_object(Bucket="hard", Key="meta", Body=b"x", Metadata={"fits": "v" * 1500})


def test_a_signed_plus_sign_expiry_is_refused(hard):
    from botocore.auth import S3SigV4QueryAuth

    def presigned(expires):
        request = AWSRequest(method="GET", url=hard.endpoint + "/hard/keep.txt")
        S3SigV4QueryAuth(Credentials(KEY, SECRET), "s3", "us-east-1", expires=expires).add_auth(request)
        return request.url

    assert "X-Amz-Expires=%2B600" in presigned("+600")
    with urllib.request.urlopen(presigned(600), timeout=10) as response:
        assert response.read() == b"still here"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(presigned("+600"), timeout=10)
    assert refused.value.code == 403 and b"X-Amz-Expires" in refused.value.read()


def test_a_key_with_a_newline_cannot_forge_a_log_line(hard):
    forged = "x\nINFO forged: access status=200 operation=DeleteBucket"
    hard.s3.put_object(Bucket="hard", Key=forged, Body=b"x")
    hard.s3.get_object(Bucket="hard", Key=forged)
    deadline = time.monotonic() + 10
    while "forged" not in hard.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = hard.log.read_text().splitlines()
    assert any("forged" in line for line in lines)
    assert not any(line.startswith("INFO forged") for line in lines), "a key started a log line of its own"
    assert any("x\\nINFO forged" in line for line in lines)


def test_an_unauthenticated_put_is_answered_and_the_connection_closed_without_reading_its_body(hard):
    port = int(hard.endpoint.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"PUT /hard/anon HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"a" * 1000)
    answer = b""
    sock.settimeout(10)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 403") and b"connection: close" in answer.lower()


def slow_connection(port, host="127.0.0.1", source="127.0.0.1"):
    """A connection that sends half a request head and then nothing."""
    sock = socket.create_connection((host, port), timeout=30, source_address=(source, 0))
    sock.sendall(b"GET /-/health/live HTTP/1.1\r\nHost: x\r\n")
    return sock


def still_open(sockets):
    """How many of `sockets` the server has not closed (read without waiting)."""
    count = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            count += 0 if sock.recv(1) == b"" else 1
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def closed_within(sock, seconds):
    """Whether the server closed the connection within `seconds` (reading whatever it answered first)."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if sock.recv(65536) == b"":
                return True
        return False
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def test_timeouts_close_a_trickled_head_an_idle_keepalive_and_a_stalled_body_but_not_a_moving_one(tmp_path):
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET},
                          args=("--header-timeout", "2", "--keepalive-timeout", "2", "--stall-timeout", "2"))
    try:
        boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                     region_name="us-east-1").create_bucket(Bucket="stall")
        for endpoint in (server.endpoint, server.hospital):
            port = int(endpoint.rsplit(":", 1)[1])
            # A head that trickles in a byte a second never completes within the head timeout.
            trickle = socket.create_connection(("127.0.0.1", port), timeout=30)
            started = time.monotonic()
            closed = False
            for byte in b"GET /-/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 20:
                try:
                    trickle.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                trickle.settimeout(0.5)
                try:
                    if trickle.recv(1) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    # Closed with bytes of ours still unread: the kernel answers with a reset, not a FIN.
                    closed = True
                    break
            assert closed and time.monotonic() - started < 8, "a trickled head must be cut after the head timeout"

            # An idle keep-alive connection is closed after the keep-alive timeout.
            idle = socket.create_connection(("127.0.0.1", port), timeout=30)
            idle.sendall(b"GET /-/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            idle.settimeout(5)
            assert b"200" in idle.recv(4096).split(b"\r\n")[0]
            assert closed_within(idle, 6)

            # A body that stops moving is cut after the stall timeout: a signed S3 PUT, a hospital login.
            stalled = socket.create_connection(("127.0.0.1", port), timeout=30)
            if endpoint == server.endpoint:
                request = AWSRequest(method="PUT", url=endpoint + "/stall/key", headers={"Content-Length": "1000"})
                request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
                SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
                head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
                stalled.sendall(f"PUT /stall/key HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode() + b"a" * 10)
            else:
                stalled.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 1000\r\n\r\n" + b"{" * 10)
            started = time.monotonic()
            assert closed_within(stalled, 8)
            assert time.monotonic() - started >= 1.5, "closed before the stall timeout"

        # A download read slowly but steadily is never cut, though it takes longer than every timeout.
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        s3.create_bucket(Bucket="slow")
        payload = bytes(range(256)) * 4096 * 8  # 8 MiB
        s3.put_object(Bucket="slow", Key="big", Body=payload)
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "slow", "Key": "big"}, ExpiresIn=600)
        port = int(server.endpoint.rsplit(":", 1)[1])
        reader = socket.create_connection(("127.0.0.1", port), timeout=30)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        path = url.split(str(port), 1)[1]
        reader.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        received = 0
        started = time.monotonic()
        while True:
            chunk = reader.recv(65536)
            if not chunk:
                break
            received += len(chunk)
            if received > len(payload):
                break
            time.sleep(0.02)
        assert time.monotonic() - started > 3, "the slow reader must have outlasted the timeouts"
        assert received > len(payload), "a moving download was cut"
    finally:
        stop_server(server)


def test_connection_caps_close_an_attackers_extra_connections_while_honest_clients_get_in(tmp_path):
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET},
                          args=("--max-connections-per-client", "50", "--max-connections", "400"))
    port = int(server.endpoint.rsplit(":", 1)[1])
    attacker = []
    try:
        # The attacker (127.0.0.2) opens 1000 connections that never finish a request.
        for _ in range(1000):
            try:
                attacker.append(slow_connection(port, source="127.0.0.2"))
            except OSError:
                pass
        time.sleep(1)
        open_ones = still_open(attacker)
        assert open_ones <= 50, f"{open_ones} attacker connections stayed open"
        # Honest clients from 127.0.0.1 are served on both listeners.
        assert alive(server)
        with urllib.request.urlopen(server.hospital + "/-/health/live", timeout=10) as response:
            assert response.status == 200
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        s3.create_bucket(Bucket="honest")
    finally:
        for sock in attacker:
            sock.close()
        stop_server(server)


def test_a_full_listener_makes_room_for_a_new_client_by_closing_the_longest_idle_connection(tmp_path):
    """Issue 27, N5: four addresses hold 50 idle connections each, filling a listener of 100; a new client from another
    address is still served (the longest-idle connections make room), and the attackers keep at most 100 open."""
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET},
                          args=("--max-connections-per-client", "50", "--max-connections", "100"))
    port = int(server.endpoint.rsplit(":", 1)[1])
    attacker = []
    try:
        for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
            for _ in range(50):
                try:
                    attacker.append(slow_connection(port, source=source))
                except OSError:
                    pass
        time.sleep(1)
        for _ in range(5):
            with urllib.request.urlopen(server.endpoint + "/-/health/live", timeout=10) as response:
                assert response.status == 200
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        s3.create_bucket(Bucket="room")
        open_ones = still_open(attacker)
        assert open_ones <= 100, f"{open_ones} attacker connections stayed open"
        metrics = urllib.request.urlopen(urllib.request.Request(server.endpoint + "/-/metrics"), timeout=10).read().decode()
        assert 'reason="evicted_idle"' in metrics
    finally:
        for sock in attacker:
            sock.close()
        stop_server(server)


def test_a_thousand_slow_connections_under_a_low_descriptor_limit_leave_the_server_serving(tmp_path):
    """With 1100 descriptors in all, 1000 slowloris connections from one address must not starve
    /-/health/live or a new honest client."""
    script = f"ulimit -n 1100 && exec {BIN} serve --data {tmp_path / 'data'} --s3-port 0 --hospital-port 0"
    env = {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET}
    process = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**__import__("os").environ, **env})
    attacker = []
    try:
        endpoint, hospital = None, None
        for line in process.stdout:
            if line.startswith("s3 endpoint: "):
                endpoint = line.split(": ", 1)[1].strip()
            if line.startswith("hospital endpoint: "):
                hospital = line
            if endpoint and hospital:
                break
        assert endpoint
        port = int(endpoint.rsplit(":", 1)[1])
        for _ in range(1000):
            try:
                attacker.append(slow_connection(port, source="127.0.0.2"))
            except OSError:
                pass
        for _ in range(5):
            with urllib.request.urlopen(endpoint + "/-/health/live", timeout=10) as response:
                assert response.status == 200
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        s3.create_bucket(Bucket="served")
        s3.put_object(Bucket="served", Key="k", Body=b"v")
        assert s3.get_object(Bucket="served", Key="k")["Body"].read() == b"v"
    finally:
        for sock in attacker:
            sock.close()
        process.terminate()
        process.wait(timeout=20)


def run_cli(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, env=env)


def test_operator_commands_refuse_a_data_root_that_does_not_exist(tmp_path):
    missing = tmp_path / "typo"
    for args in (("chain", "verify", "--all"), ("audit", "verify"), ("keys", "list"), ("credentials",), ("chain", "orphans")):
        result = run_cli(*args, "--data", str(missing))
        assert result.returncode != 0, args
        assert "does not exist" in result.stderr, (args, result.stderr)
    assert not missing.exists(), "a check must not create the data root"


def test_credentials_only_shows(tmp_path):
    root = tmp_path / "data"
    (root / ".chainvault").mkdir(parents=True)
    result = run_cli("credentials", "--data", str(root))
    assert result.returncode == 0
    assert not (root / ".chainvault" / "credentials.json").exists(), "showing must not create a root key"


def test_a_missing_keyring_beside_chains_stops_serve_and_names_the_key(tmp_path):
    root = tmp_path / "data"
    report = tmp_path / "report.bin"
    report.write_bytes(b"patient report " * 1000)
    put = run_cli("chain", "put", "--data", str(root), str(report))
    assert put.returncode == 0, put.stderr
    keyring = json.loads((root / ".chainvault" / "keyring.json").read_text())
    (root / ".chainvault" / "keyring.json").unlink()
    for args in (("chain", "verify", "--all"), ("keys", "list"), ("chain", "put", str(report))):
        result = run_cli(*args, "--data", str(root))
        assert result.returncode != 0, args
        assert "keyring" in result.stderr and "missing" in result.stderr, (args, result.stderr)
    assert keyring["active"] in run_cli("chain", "verify", "--all", "--data", str(root)).stderr
    serve = subprocess.run([BIN, "serve", "--data", str(root), "--s3-port", "0", "--hospital-port", "0"], capture_output=True, text=True,
                           timeout=60, env={**__import__("os").environ, "CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET})
    assert serve.returncode != 0 and keyring["active"] in serve.stderr, serve.stderr
    assert not (root / ".chainvault" / "keyring.json").exists(), "no stray key was made"
    init = run_cli("keys", "init", "--data", str(root))
    assert init.returncode != 0 and "missing" in init.stderr


def test_data_files_are_private_whatever_the_umask(tmp_path):
    import os
    import stat
    data = tmp_path / "data"
    script = f"umask 000 && exec {BIN} serve --data {data} --s3-port 0 --hospital-port 0"
    process = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET})
    try:
        endpoint = None
        for line in process.stdout:
            if line.startswith("s3 endpoint: "):
                endpoint = line.split(": ", 1)[1].strip()
                break
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        s3.create_bucket(Bucket="modes")
        s3.put_object(Bucket="modes", Key="dir/object.txt", Body=b"private")
        mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)
        assert mode(data / "modes" / "dir" / "object.txt") & 0o007 == 0
        assert mode(data / "modes" / "dir") & 0o007 == 0
        for name in ("hospital.sqlite", "hospital.sqlite-wal", "hospital.sqlite-shm"):
            path = data / ".chainvault" / name
            if path.exists():
                assert mode(path) == 0o600, (name, oct(mode(path)))
    finally:
        process.terminate()
        process.wait(timeout=20)
