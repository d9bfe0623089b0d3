"""Slow readers cannot grow the server's memory: every download holds a small bounded buffer and the
socket's back-pressure reaches the disk (S3 GETs) or the chain reader (report downloads)."""
import os
import socket
import subprocess
import threading
import time

import boto3

from conftest import BIN, start_server, stop_server
from test_hospital import SCHEDULING_AHEAD, call, completed_checkup, login, raw, register

KEY, SECRET = "SLOWREADERSKEY000001", "slow-readers-secret-0123456789"


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


def slow_readers(server, port, request_head, count, rate=2_000_000, seconds=12):
    """`count` clients each sending `request_head` and reading its answer at `rate` bytes/s for `seconds`;
    returns the server's peak RSS in MiB and the bytes each client got."""
    stop = time.monotonic() + seconds
    received = [0] * count

    def reader(index):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request_head)
        start = time.monotonic()
        while time.monotonic() < stop:
            data = sock.recv(65536)
            if not data:
                break
            received[index] += len(data)
            ahead = received[index] / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        sock.close()

    threads = [threading.Thread(target=reader, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    peak = 0
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_mib(server.process.pid))
        time.sleep(0.25)
    return peak, received


def test_64_slow_readers_of_a_64_mib_object_keep_rss_under_150_mib(tmp_path):
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET})
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
        s3.create_bucket(Bucket="big")
        s3.put_object(Bucket="big", Key="scan", Body=os.urandom(64 << 20))
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "big", "Key": "scan"}, ExpiresIn=3600)
        port = int(server.endpoint.rsplit(":", 1)[1])
        path = url.split(str(port), 1)[1]
        peak, received = slow_readers(server, port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), 64)
        print(f"64 slow S3 readers: peak RSS {peak} MiB")
        assert all(count > 4_000_000 for count in received), "every reader moved"
        assert peak < 150, f"peak RSS {peak} MiB"
    finally:
        stop_server(server)


def test_32_slow_report_downloads_hold_about_two_chunks_each(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET, **SCHEDULING_AHEAD})
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
        subprocess.run([BIN, "hospital", "add-doctor", "--data", str(data), "--name", "Dr Slow", "--specialization", "Radiology",
                        "slow-doctor@example.org"], input="stethoscope 42\n", text=True, env=env, check=True, capture_output=True)
        doctor, _ = login(server, "slow-doctor@example.org", "stethoscope 42")
        patient, patient_id = register(server, "Sam Slow", "sam-slow@example.org")
        completed_checkup(server, doctor, patient)
        status, body = raw(server, "POST", f"/api/patients/{patient_id}/reports?title=CT", doctor, os.urandom(48 << 20),
                           {"Content-Type": "application/octet-stream"})
        assert status == 201, body
        report_id = int(__import__("json").loads(body)["id"])
        port = int(server.hospital.rsplit(":", 1)[1])
        head = (f"GET /api/reports/{report_id}/content HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {patient}\r\n\r\n").encode()
        before = rss_mib(server.process.pid)
        peak, received = slow_readers(server, port, head, 32)
        print(f"32 slow report downloads: RSS {before} MiB before, peak {peak} MiB")
        assert all(count > 4_000_000 for count in received), "every download moved"
        # A 1 MiB chunk being sent, its ciphertext, and one chunk read ahead: measured 3.6 MiB each.
        assert peak - before < 32 * 5, f"peak RSS {peak} MiB from {before} MiB"
    finally:
        stop_server(server)
