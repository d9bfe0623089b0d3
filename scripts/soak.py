#!/usr/bin/env python3
"""`make soak`: SOAK_SECONDS (default 600) of mixed load against one `chainvault serve`, on loopback only.

Load, all at once: S3 clients (boto3) doing PUT/GET/LIST/DELETE and multipart uploads; hospital
logins, report uploads (chain writes) and downloads (chain reads); `chainvault chain put/get` on the
same data root; and a slowloris that keeps 50 connections trickling a byte at a time. Every 10 s it
samples the server's RSS, open descriptors and threads.

Pass: zero failed requests (the slowloris aside), RSS and descriptors flat after warm-up (the first
60 s) — the peak of the last quarter of the run within 10 % of the peak of the first quarter: under
this load both saw-tooth (a 6 MiB multipart or a 3 MiB report in flight; the slowloris's 50
connections cut together by the head timeout), and what must not happen is a trend — and every
acknowledged object and report byte-identical at the end. Writes docs/soak.png and prints one JSON
summary line (recorded in RELIABILITY.md).
"""
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
from conftest import start_server, stop_server  # noqa: E402
from test_hospital import call, login, raw, register, rfc3339, slot_start  # noqa: E402

BIN = os.environ.get("CHAINVAULT_BIN", str(ROOT / ".build/release/chainvault"))
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
WARMUP = min(60, SECONDS // 5)
KEY, SECRET = "SOAKROOTKEY000000001", "soak-secret-" + os.urandom(8).hex()


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.failed = {}
        self.errors = []

    def record(self, kind, ok, error=None):
        with self.lock:
            table = self.ok if ok else self.failed
            table[kind] = table.get(kind, 0) + 1
            if not ok and len(self.errors) < 20:
                self.errors.append(f"{kind}: {error}")


def proc_sample(pid):
    status = {line.split(":")[0]: line.split(":")[1].strip() for line in open(f"/proc/{pid}/status")}
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
    }


def s3_worker(server, stop, tally, acknowledged, lock, worker):
    s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
    bucket = f"soak-{worker}"
    s3.create_bucket(Bucket=bucket)
    rng = random.Random(worker)
    n = 0
    while not stop.is_set():
        n += 1
        key = f"k/{rng.randrange(200)}"
        action = rng.random()
        try:
            if action < 0.45:
                body = os.urandom(rng.choice([1024, 4096, 65536, 1 << 20]))
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                with lock:
                    acknowledged[(bucket, key)] = hashlib.sha256(body).hexdigest()
                tally.record("s3 put", True)
            elif action < 0.80:
                with lock:
                    expected = acknowledged.get((bucket, key))
                if expected is None:
                    continue
                got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                with lock:
                    current = acknowledged.get((bucket, key))
                # A write of the same key by this worker only: what it read must be what it last wrote.
                ok = hashlib.sha256(got).hexdigest() == current
                tally.record("s3 get", ok, None if ok else f"{bucket}/{key} differs")
            elif action < 0.90:
                s3.list_objects_v2(Bucket=bucket, Prefix="k/")
                tally.record("s3 list", True)
            elif action < 0.96:
                s3.delete_object(Bucket=bucket, Key=key)
                with lock:
                    acknowledged.pop((bucket, key), None)
                tally.record("s3 delete", True)
            else:
                parts = [os.urandom(5 << 20), os.urandom(1 << 20)]
                upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                etags = [s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=i + 1, Body=p)["ETag"]
                         for i, p in enumerate(parts)]
                s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={
                    "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
                with lock:
                    acknowledged[(bucket, key)] = hashlib.sha256(b"".join(parts)).hexdigest()
                tally.record("s3 multipart", True)
        except Exception as error:  # noqa: BLE001 - every failure counts
            tally.record("s3", False, repr(error)[:300])


def hospital_worker(server, stop, tally, reports, lock):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    subprocess.run([BIN, "hospital", "add-doctor", "--data", str(server.data), "--name", "Dr Soak", "--specialization", "Radiology",
                    "soak-doctor@example.org"], input="stethoscope 42\n", text=True, env=env, check=True, capture_output=True)
    doctor, _ = login(server, "soak-doctor@example.org", "stethoscope 42")
    patient, patient_id = register(server, "Pat Soak", "soak-patient@example.org")
    slot = call(server, "POST", "/api/slots", {"startsAt": rfc3339(2), "durationMinutes": 15}, token=doctor)[1]
    call(server, "POST", f"/api/slots/{slot['id']}/booking", token=patient)
    time.sleep(max(0.0, slot_start(slot) - time.time()) + 0.5)
    call(server, "POST", f"/api/slots/{slot['id']}/completion", token=doctor)
    rng = random.Random(7)
    while not stop.is_set():
        action = rng.random()
        try:
            if action < 0.3:
                status, _ = call(server, "POST", "/api/sessions", {"email": "soak-patient@example.org", "password": "correct horse battery"})
                tally.record("hospital login", status == 201, status)
            elif action < 0.6:
                body = os.urandom(rng.choice([10_000, 1 << 20, 3 << 20]))
                status, answer = raw(server, "POST", f"/api/patients/{patient_id}/reports?title=Soak", doctor, body,
                                     {"Content-Type": "application/octet-stream"})
                ok = status == 201
                if ok:
                    with lock:
                        reports[json.loads(answer)["id"]] = hashlib.sha256(body).hexdigest()
                tally.record("report upload", ok, status)
            else:
                with lock:
                    if not reports:
                        continue
                    report_id, digest = rng.choice(list(reports.items()))
                status, body = raw(server, "GET", f"/api/reports/{report_id}/content", patient)
                ok = status == 200 and hashlib.sha256(body).hexdigest() == digest
                tally.record("report download", ok, status)
        except Exception as error:  # noqa: BLE001
            tally.record("hospital", False, repr(error)[:300])


def chain_cli_worker(server, stop, tally, work):
    rng = random.Random(11)
    while not stop.is_set():
        data = os.urandom(rng.choice([100, 300_000, 2 << 20]))
        source = work / "in.bin"
        source.write_bytes(data)
        put = subprocess.run([BIN, "chain", "put", "--data", str(server.data), str(source)], capture_output=True, text=True, timeout=300)
        if put.returncode != 0:
            tally.record("chain put", False, put.stderr[-300:])
            continue
        head = put.stdout.strip().splitlines()[-1]
        out = work / "out.bin"
        got = subprocess.run([BIN, "chain", "get", "--data", str(server.data), head, "-o", str(out)], capture_output=True, text=True,
                             timeout=300)
        ok = got.returncode == 0 and out.read_bytes() == data
        tally.record("chain put+get", ok, got.stderr[-300:])
        stop.wait(2)


def slowloris(server, stop, tally):
    """Keeps 50 connections trickling a header byte every second; the server cuts them (head timeout)."""
    port = int(server.endpoint.rsplit(":", 1)[1])
    sockets = []
    cut = 0
    while not stop.is_set():
        while len(sockets) < 50:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"GET /-/health/live HTTP/1.1\r\nHost: x\r\n")
                sockets.append(sock)
            except OSError:
                break
        alive = []
        for sock in sockets:
            try:
                sock.sendall(b"X-a: b\r\n")
                alive.append(sock)
            except OSError:
                cut += 1
                sock.close()
        sockets = alive
        stop.wait(1)
    for sock in sockets:
        sock.close()
    tally.record("slowloris connections cut", True)
    tally.ok["slowloris connections cut"] = cut


def plot(samples, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    t = [s["t"] for s in samples]
    for axis, key, label in zip(axes, ["rss_mib", "fds", "threads"], ["RSS (MiB)", "open descriptors", "threads"]):
        axis.plot(t, [s[key] for s in samples], marker=".")
        axis.set_ylabel(label)
        axis.axvline(WARMUP, color="grey", linestyle=":")
        axis.set_ylim(bottom=0)
    axes[-1].set_xlabel("seconds")
    figure.suptitle(f"chainvault serve under {SECONDS} s of mixed load (make soak)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main():
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    server = start_server(work / "data", {"CHAINVAULT_ACCESS_KEY": KEY, "CHAINVAULT_SECRET_KEY": SECRET},
                          args=("--header-timeout", "10"))
    stop = threading.Event()
    tally = Tally()
    acknowledged, reports, lock = {}, {}, threading.Lock()
    threads = [threading.Thread(target=s3_worker, args=(server, stop, tally, acknowledged, lock, i)) for i in range(4)]
    threads += [threading.Thread(target=hospital_worker, args=(server, stop, tally, reports, lock)),
                threading.Thread(target=chain_cli_worker, args=(server, stop, tally, work)),
                threading.Thread(target=slowloris, args=(server, stop, tally))]
    for thread in threads:
        thread.start()
    samples = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < SECONDS:
            samples.append({"t": round(time.monotonic() - started), **proc_sample(server.process.pid)})
            time.sleep(10)
        samples.append({"t": round(time.monotonic() - started), **proc_sample(server.process.pid)})
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    # Every acknowledged object and report is intact.
    s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1")
    intact = sum(hashlib.sha256(s3.get_object(Bucket=b, Key=k)["Body"].read()).hexdigest() == d for (b, k), d in acknowledged.items())
    patient, _ = login(server, "soak-patient@example.org", "correct horse battery")
    reports_intact = sum(hashlib.sha256(raw(server, "GET", f"/api/reports/{i}/content", patient)[1]).hexdigest() == d
                         for i, d in reports.items())
    after = [s for s in samples if s["t"] >= WARMUP]
    quarter = max(1, len(after) // 4)
    first, last = after[:quarter], after[-quarter:]
    growth = {key: (max(s[key] for s in last) - max(s[key] for s in first)) / max(1, max(s[key] for s in first))
              for key in ("rss_mib", "fds")}
    stop_server(server)
    plot(samples, ROOT / "docs" / "soak.png")
    failed = sum(tally.failed.values())
    summary = {
        "seconds": SECONDS, "requests_ok": tally.ok, "requests_failed": tally.failed, "errors": tally.errors,
        "objects_intact": f"{intact}/{len(acknowledged)}", "reports_intact": f"{reports_intact}/{len(reports)}",
        "rss_mib": [round(min(s["rss_mib"] for s in after), 1), round(max(s["rss_mib"] for s in after), 1)],
        "fds": [min(s["fds"] for s in after), max(s["fds"] for s in after)],
        "threads": [min(s["threads"] for s in after), max(s["threads"] for s in after)],
        "peak_growth_first_to_last_quarter": {k: round(v, 3) for k, v in growth.items()},
        "samples": samples,
    }
    print(json.dumps(summary))
    flat = growth["rss_mib"] <= 0.10 and growth["fds"] <= 0.10
    ok = failed == 0 and flat and intact == len(acknowledged) and reports_intact == len(reports)
    print(f"soak: {'passed' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
