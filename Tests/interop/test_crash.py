"""Crash recovery: `chainvault serve` killed with SIGKILL at a random moment under load, again and again.

Each round starts the server on the same data root, drives concurrent S3 PUTs (small and multi-MiB,
many overwriting earlier keys) and hospital report uploads (chain writes), kills the server at a random
moment, restarts it and checks:

- every acknowledged object reads back byte-identical, or as a later write to the same key that was in
  flight at the kill (the rename may have happened before the answer was sent): never anything else;
- no key exists that no request wrote, nothing is left in the temp folder after start-up, so no object
  is ever partial or visible under a temp name;
- every acknowledged report downloads byte-identical; a report whose answer was lost is whole or absent;
- keyless `chain verify --all` passes on every indexed chain.

A second test does the same with writes and deletes that change where keys live: `p`, `p/q`, `p/` and
`p//q` and the like, each a plain file or a reserved key depending on which came first; after every
restart each key reads back as one write sent whole, or is absent only if a delete may have won, and
a listing names it once.

CHAINVAULT_CRASH_KILLS sets the number of kills (default 20).
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time

import boto3
import botocore
from botocore.config import Config

from conftest import BIN, start_server
from test_hospital import SCHEDULING_AHEAD, call, completed_checkup, login, raw, register

KILLS = int(os.environ.get("CHAINVAULT_CRASH_KILLS", "20"))
KEYS = [f"k{n:02d}" for n in range(24)]  # few keys, so that overwrites are common
ENV = {"CHAINVAULT_ACCESS_KEY": "CRASHROOTKEY00000001", "CHAINVAULT_SECRET_KEY": "crash-secret-0123456789abcdef", **SCHEDULING_AHEAD}
CLI_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}


def s3_client(server):
    return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key, region_name="us-east-1",
                        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30))


class Ledger:
    """Every write per key with its start and acknowledgement times, and the acknowledged reports.

    Writes to one key overlap, so the last acknowledgement need not be the last rename: a key may hold
    any write that no acknowledged write started after (a write never acknowledged counts as ending at
    the kill)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.writes = {}  # key -> list of [sha256, start, end or None]
        self.reports = {}  # report id -> sha256 (acknowledged)
        self.report_attempts = set()  # sha256 of every report body sent

    def attempt(self, key, digest):
        write = [digest, time.monotonic(), None]
        with self.lock:
            self.writes.setdefault(key, []).append(write)
        return write

    def acknowledge(self, write):
        with self.lock:
            write[2] = time.monotonic()

    def allowed(self, key):
        with self.lock:
            writes = self.writes.get(key, [])
            acknowledged_starts = [start for _, start, end in writes if end is not None]
            return {digest for digest, _, end in writes
                    if end is None or not any(start > end for start in acknowledged_starts)}

    def must_exist(self, key):
        """An acknowledged write or delete exists, and no allowed outcome is a delete (digest None)."""
        if None in self.allowed(key):
            return False
        with self.lock:
            return any(end is not None for _, _, end in self.writes.get(key, []))

    def settle(self, key, digest):
        """After a check: the key holds `digest`, acknowledged before anything that comes next."""
        with self.lock:
            self.writes[key] = [[digest, -1.0, -1.0]] if digest else []

    def acknowledged_keys(self):
        with self.lock:
            return sum(1 for key in self.writes if any(end is not None for _, _, end in self.writes[key]))


def s3_worker(server, ledger, stop, seed, errors):
    rng = random.Random(seed)
    s3 = s3_client(server)
    while not stop.is_set():
        key = rng.choice(KEYS)
        size = rng.choice([rng.randint(0, 64 * 1024), rng.randint(1, 6) * 1024 * 1024 + rng.randint(0, 4096)])
        body = rng.randbytes(size)
        digest = hashlib.sha256(body).hexdigest()
        write = ledger.attempt(key, digest)
        try:
            s3.put_object(Bucket="crash", Key=key, Body=body)
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.ReadTimeoutError, ConnectionError):
            return
        except Exception as error:  # anything else is a bug, unless the server is gone
            if not stop.is_set():
                errors.append(f"PUT {key}: {error!r}")
            return
        ledger.acknowledge(write)


def report_worker(server, ledger, stop, seed, doctor, patient_id, errors):
    rng = random.Random(seed)
    while not stop.is_set():
        body = rng.randbytes(rng.randint(1, 3) * 1024 * 1024 + rng.randint(0, 1000))
        digest = hashlib.sha256(body).hexdigest()
        with ledger.lock:
            ledger.report_attempts.add(digest)
        try:
            status, answer = raw(server, "POST", f"/api/patients/{patient_id}/reports?title=crash", doctor, body,
                                 {"Content-Type": "application/octet-stream"})
        except OSError:
            return
        if status != 201:
            if not stop.is_set():
                errors.append(f"report upload: {status} {answer[:200]!r}")
            return
        report = json.loads(answer)
        with ledger.lock:
            ledger.reports[report["id"]] = digest


def check(server, ledger, doctor):
    data = server.data
    s3 = s3_client(server)
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", [])}
    assert listed <= set(KEYS), f"keys nobody wrote: {listed - set(KEYS)}"
    for key in KEYS:
        allowed = ledger.allowed(key)
        if key not in listed:
            assert not ledger.must_exist(key), f"acknowledged {key} is lost"
            ledger.settle(key, None)
            continue
        digest = hashlib.sha256(s3.get_object(Bucket="crash", Key=key)["Body"].read()).hexdigest()
        assert digest in allowed, f"{key} holds bytes no write sent whole (partial or mixed)"
        assert digest == hashlib.sha256((data / "crash" / key).read_bytes()).hexdigest(), "the plain file is the object"
        ledger.settle(key, digest)  # the state the next round starts from
    status, listing = call(server, "GET", "/api/reports", token=doctor)
    assert status == 200
    stored = {r["id"]: r["sha256"] for r in listing}
    for report_id, digest in ledger.reports.items():
        assert stored.get(report_id) == digest, f"acknowledged report {report_id} is lost"
    for report_id, digest in stored.items():
        assert digest in ledger.report_attempts, f"report {report_id} is not a body that was sent"
        status, body = raw(server, "GET", f"/api/reports/{report_id}/content", doctor)
        assert status == 200 and hashlib.sha256(body).hexdigest() == digest, f"report {report_id} reads back different"
        ledger.reports[report_id] = digest


def kill_rounds(data, current, workers, check_round, longest):
    """KILLS rounds of: start `workers(server, stop, rng, errors)`, let them run up to `longest` seconds,
    SIGKILL the server, restart it on `data`, check that start-up swept the temp folder, then
    `check_round(server, round_number)`. `current[0]` is always the server running (for the caller's
    clean-up)."""
    rng = random.Random(int(os.environ.get("CHAINVAULT_CRASH_SEED", str(time.time_ns()))))
    for round_number in range(KILLS):
        stop = threading.Event()
        errors = []
        server = current[0]
        threads = workers(server, stop, rng, errors)
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.2, longest))
        stop.set()  # failures from here on are the kill's doing
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
        for thread in threads:
            thread.join(60)
        assert not errors, f"round {round_number}: {errors}"
        left = set((data / ".chainvault" / "tmp").iterdir())
        current[0] = start_server(data, ENV)
        # What the killed server left is gone (the new one may already be writing its own: the audit checkpoint's copies).
        assert not left & set((data / ".chainvault" / "tmp").iterdir()), "start-up swept the temp folder"
        check_round(current[0], round_number)


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, ENV)
    # One doctor with a completed checkup of one patient, so that reports can be uploaded.
    subprocess.run([BIN, "hospital", "add-admin", "--data", str(data), "--name", "Root", "root@crash.example"],
                   input="admin password 1\n", capture_output=True, text=True, env=CLI_ENV, timeout=120, check=True)
    admin, _ = login(server, "root@crash.example", "admin password 1")
    assert call(server, "POST", "/api/staff", {"role": "doctor", "name": "Dr Crash", "email": "doc@crash.example",
                                               "password": "stethoscope 42", "specialization": "Cardiology"}, token=admin)[0] == 201
    doctor, _ = login(server, "doc@crash.example", "stethoscope 42")
    patient, patient_id = register(server, "Pat Crash", "pat@crash.example")
    completed_checkup(server, doctor, patient)
    s3_client(server).create_bucket(Bucket="crash")

    ledger = Ledger()

    def workers(server, stop, rng, errors):
        threads = [threading.Thread(target=s3_worker, args=(server, ledger, stop, rng.random(), errors)) for _ in range(4)]
        return threads + [threading.Thread(target=report_worker, args=(server, ledger, stop, rng.random(), doctor, patient_id, errors))]

    current = [server]
    try:
        kill_rounds(data, current, workers, lambda server, _: check(server, ledger, doctor), longest=2.0)
        assert ledger.acknowledged_keys() > 0 and ledger.reports, "the load got through between kills"
        verify = subprocess.run([BIN, "chain", "verify", "--data", str(data), "--no-key", "--all"],
                                capture_output=True, text=True, env=CLI_ENV, timeout=600)
        assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
        print(f"{KILLS} kills: {len(KEYS)} keys and {len(ledger.reports)} reports checked after every restart")
    finally:
        current[0].process.send_signal(signal.SIGKILL)
        current[0].process.wait(30)


# Keys whose places depend on each other: a key and keys below it, folder markers, empty segments.
KIND_KEYS = ["p", "p/q", "p/q/r", "p/", "p//q", "q", "q/", "q/r", "q/r/", "r/../s", "r"]


def kind_worker(server, ledger, stop, seed, errors):
    rng = random.Random(seed)
    s3 = s3_client(server)
    while not stop.is_set():
        key = rng.choice(KIND_KEYS)
        delete = rng.random() < 0.3
        body = b"" if delete else rng.randbytes(rng.randint(0, 256 * 1024))
        write = ledger.attempt(key, None if delete else hashlib.sha256(body).hexdigest())
        try:
            if delete:
                s3.delete_object(Bucket="kinds", Key=key)
            else:
                s3.put_object(Bucket="kinds", Key=key, Body=body)
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.ReadTimeoutError, ConnectionError):
            return
        except Exception as error:
            if not stop.is_set():
                errors.append(f"{'DELETE' if delete else 'PUT'} {key}: {error!r}")
            return
        ledger.acknowledge(write)


def test_sigkill_while_keys_change_kind_loses_nothing_acknowledged(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, ENV)
    s3_client(server).create_bucket(Bucket="kinds")
    ledger = Ledger()

    def workers(server, stop, rng, errors):
        return [threading.Thread(target=kind_worker, args=(server, ledger, stop, rng.random(), errors)) for _ in range(4)]

    def check_kinds(server, round_number):
        s3 = s3_client(server)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="kinds").get("Contents", [])]
        assert len(listed) == len(set(listed)), f"a key listed twice: {listed}"
        assert set(listed) <= set(KIND_KEYS), f"keys nobody wrote: {set(listed) - set(KIND_KEYS)}"
        for key in KIND_KEYS:
            allowed = ledger.allowed(key)
            if key not in listed:
                assert not ledger.must_exist(key), f"round {round_number}: acknowledged {key} is lost"
                ledger.settle(key, None)
                continue
            digest = hashlib.sha256(s3.get_object(Bucket="kinds", Key=key)["Body"].read()).hexdigest()
            assert digest in allowed, f"round {round_number}: {key} holds bytes no write sent whole, or came back after a delete"
            ledger.settle(key, digest)

    current = [server]
    try:
        kill_rounds(data, current, workers, check_kinds, longest=1.5)
        assert ledger.acknowledged_keys() > 0
    finally:
        current[0].process.kill()
        current[0].process.wait(30)
