"""Two `chainvault serve` instances, each with its own data root, on one PostgreSQL database, with the
report chains on SeaweedFS: one hospital. `make test` starts a throwaway PostgreSQL server
(scripts/with-postgres.sh) and names it in CHAINVAULT_TEST_DATABASE_URL; each test gets a database of
its own on it."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import BIN, activation_path, outbox_mails, start_server, stop_server
from test_hospital import SCHEDULING_AHEAD, call, completed_checkup, login, raw, rfc3339

SERVER_URL = os.environ.get("CHAINVAULT_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not SERVER_URL, reason="needs CHAINVAULT_TEST_DATABASE_URL: make test starts a PostgreSQL server")
PASSWORD = "correct horse battery"


def psql(url: str, sql: str) -> str:
    """One statement through Debian's psql, its rows as `a|b` lines."""
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


def fresh_database() -> str:
    name = "it_" + uuid.uuid4().hex[:12]
    psql(SERVER_URL, f"CREATE DATABASE {name}")
    return SERVER_URL.rsplit("/", 1)[0] + "/" + name


def chain_settings(seaweed, url: str) -> dict:
    """The settings both instances share: the database, and the chains' two buckets on SeaweedFS."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "CHAINVAULT_DATABASE_URL": url,
        "CHAINVAULT_ENDPOINT_A": seaweed.endpoint, "CHAINVAULT_ENDPOINT_B": seaweed.endpoint,
        "CHAINVAULT_BUCKET_A": f"pg-a-{suffix}", "CHAINVAULT_BUCKET_B": f"pg-b-{suffix}",
        "CHAINVAULT_A_ACCESS_KEY_ID": seaweed.access_key, "CHAINVAULT_A_SECRET_ACCESS_KEY": seaweed.secret_key,
        "CHAINVAULT_B_ACCESS_KEY_ID": seaweed.access_key, "CHAINVAULT_B_SECRET_ACCESS_KEY": seaweed.secret_key,
    }


def shared_keys(data: Path) -> dict:
    """The key files of the first instance (data root `data`), for the others to read."""
    keys = data / ".chainvault"
    return {"CHAINVAULT_MASTER_KEY_FILE": str(keys / "keyring.json"), "CHAINVAULT_CODE_KEY": str(keys / "code.key"),
            "CHAINVAULT_AUDIT_SIGNING_KEY": str(keys / "audit-signing.key")}


# Checkpoints copied out every 2 s, so that the instance that publishes them is seen to change within the test.
ARGS = ("--audit-checkpoint-interval", "2")


@pytest.fixture
def pair(seaweed, tmp_path):
    """Instances A and B on one database: B reads A's key files (keyring, code key, audit signing key)."""
    url = fresh_database()
    shared = {**chain_settings(seaweed, url), **SCHEDULING_AHEAD}
    a = start_server(tmp_path / "a", shared, args=ARGS, stderr_path=tmp_path / "a.log")
    b = start_server(tmp_path / "b", {**shared, **shared_keys(tmp_path / "a")}, args=ARGS, stderr_path=tmp_path / "b.log")
    a.settings = {**shared, **shared_keys(tmp_path / "a")}
    b.settings = a.settings
    yield a, b, url
    stop_server(b)
    stop_server(a)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def front(pair, tmp_path):
    """nginx in front of both instances' hospital ports (round robin: consecutive requests alternate)."""
    a, b, _ = pair
    port = free_port()
    upstreams = "".join(f"server {server.hospital.split('//')[1]};" for server in (a, b))
    temp = "".join(f"{kind}_temp_path {tmp_path}/nginx-{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""worker_processes 1; pid {tmp_path}/nginx.pid; error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 256; }}
http {{ access_log off; {temp} client_max_body_size 0; upstream hospital {{ {upstreams} }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://hospital; proxy_http_version 1.1; proxy_request_buffering off; proxy_buffering off; }} }} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "nginx-error.log").read_text()
            time.sleep(0.05)
    yield SimpleNamespace(hospital=f"http://127.0.0.1:{port}")
    process.terminate()
    process.wait(10)


def either_outbox(pair, find, timeout: float = 15):
    """What `find(data)` finds in the outbox of whichever instance sent the mail (every instance's mail queue
    claims what is due; without SMTP, each writes to its own outbox)."""
    a, b, _ = pair
    deadline = time.monotonic() + timeout
    while True:
        for server in (a, b):
            try:
                return find(server.data)
            except (AssertionError, FileNotFoundError, IndexError):
                pass
        assert time.monotonic() < deadline, "no instance sent the mail"
        time.sleep(0.1)


def code_of(data: Path, request_id) -> str:
    message = (data / ".chainvault" / "outbox" / f"request-{request_id}.eml").read_text()
    return re.search(r"one-time code is (\d+)", message).group(1)


def cli(server, *args, input=None) -> subprocess.CompletedProcess:
    """A chainvault command with an instance's settings (the database, the buckets, the key files)."""
    return subprocess.run([BIN, *args, "--data", str(server.data)], env={**os.environ, **server.settings}, input=input,
                          capture_output=True, text=True, timeout=180)


def published_size(seaweed, bucket: str) -> int:
    """The tree size of the checkpoint copy in a chain bucket on SeaweedFS."""
    import boto3
    s3 = boto3.client("s3", endpoint_url=seaweed.endpoint, aws_access_key_id=seaweed.access_key,
                      aws_secret_access_key=seaweed.secret_key, region_name="us-east-1")
    note = s3.get_object(Bucket=bucket, Key="chainvault-audit-checkpoint")["Body"].read().decode()
    return int(note.split("\n")[1])


def test_two_instances_serve_one_hospital_with_one_ledger(pair):
    a, b, url = pair
    # Signed up on A, the account opened with the mailed link on B.
    patient = {"name": "Ada Patient", "email": "ada@example.org", "password": PASSWORD, "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
    assert call(a, "POST", "/api/patients", patient)[0] == 202
    token = activation_path(a.data, "ada@example.org").split("token=")[1]
    status, user = call(b, "POST", "/api/registrations/activation", {"token": token, "password": PASSWORD})
    assert status == 201, user
    # A session opened on A works on B; ended on B, it is gone on A.
    session, user_id = login(a, "ada@example.org", PASSWORD)
    status, me = call(b, "GET", "/api/me", token=session)
    assert status == 200 and me["id"] == user_id
    assert call(b, "DELETE", "/api/sessions/current", token=session)[0] in (200, 204)
    assert call(a, "GET", "/api/me", token=session)[0] == 401

    # Sign-ins on both instances at once (each hashes a password: a dozen each keeps the debug build's
    # run short): every one is a ledger entry, and the ledger stays one tree.
    def sign_in(server):
        return call(server, "POST", "/api/sessions", {"email": "ada@example.org", "password": PASSWORD})[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(sign_in, [a, b] * 12))
    assert statuses == [201] * 24
    count, highest = psql(url, "SELECT count(*), max(id) FROM audit").split("|")
    assert int(count) == int(highest) >= 25, "entries numbered 1…n with no gap"
    assert psql(url, "SELECT id FROM audit_head") == highest
    assert psql(url, "SELECT count(*) FROM audit_tree WHERE level = 0") == count, "one leaf per entry"
    for server in (a, b):
        status, ready = call(server, "GET", "/-/health/ready")
        assert status == 200, ready
    # The ledger both wrote is one that `chainvault audit verify` accepts, against the checkpoints signed.
    verify = subprocess.run([BIN, "audit", "verify", "--data", str(a.data)], env={**os.environ, **a.settings},
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and "audit ledger intact" in verify.stdout, verify.stdout + verify.stderr


def test_the_whole_hospital_through_nginx_alternating_instances(pair, front, seaweed):
    """A patient, two doctors and an admin, each step on one instance or the other (or nginx's next one)."""
    import json
    a, b, url = pair
    added = cli(a, "hospital", "add-admin", "--name", "Root", "root@example.org", input="admin password 1\n")
    assert added.returncode == 0, added.stderr
    admin, _ = login(front, "root@example.org", "admin password 1")
    for name, email in [("Carl Heart", "carl@example.org"), ("Dora Skin", "dora@example.org")]:
        status, _ = call(front, "POST", "/api/staff", {"role": "doctor", "name": name, "email": email, "password": "stethoscope 42",
                                                       "specialization": "Cardiology"}, token=admin)
        assert status == 201
    carl, _ = login(a, "carl@example.org", "stethoscope 42")
    dora, _ = login(b, "dora@example.org", "stethoscope 42")
    patient = {"name": "Ada Patient", "email": "ada@example.org", "password": PASSWORD, "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
    assert call(front, "POST", "/api/patients", patient)[0] == 202
    link = either_outbox(pair, lambda data: activation_path(data, "ada@example.org"))
    assert call(front, "POST", "/api/registrations/activation", {"token": link.split("token=")[1], "password": PASSWORD})[0] == 201
    ada, ada_id = login(front, "ada@example.org", PASSWORD)

    # A checkup published on A, booked on B, completed on A; the report uploaded through B, read through A and nginx.
    status, slot = call(a, "POST", "/api/slots", {"startsAt": rfc3339(60), "durationMinutes": 15}, token=carl)
    assert status == 201, slot
    assert call(b, "POST", f"/api/slots/{slot['id']}/booking", token=ada)[0] == 200
    assert call(a, "POST", f"/api/slots/{slot['id']}/completion", token=carl)[0] == 200
    report_bytes = os.urandom(3 * 1024 * 1024 + 17)
    status, body = raw(b, "POST", f"/api/patients/{ada_id}/reports?title=Echocardiogram", carl, report_bytes,
                       {"Content-Type": "application/pdf"})
    assert status == 201, body
    content = f"/api/reports/{json.loads(body)['id']}/content"
    for server in (a, front, front):
        status, downloaded = raw(server, "GET", content, ada)
        assert status == 200 and downloaded == report_bytes

    # Dora: an appointment published on B and booked on A; the access code requested on A, redeemed on B.
    status, visit = call(b, "POST", "/api/slots", {"startsAt": rfc3339(7200), "durationMinutes": 15}, token=dora)
    assert status == 201 and call(a, "POST", f"/api/slots/{visit['id']}/booking", token=ada)[0] == 200
    status, request = call(a, "POST", f"/api/reports/{json.loads(body)['id']}/access-requests", token=dora)
    assert status == 201, request
    code = either_outbox(pair, lambda data: code_of(data, request["id"]))
    status, grant = call(b, "POST", f"/api/access-requests/{request['id']}/redemption", {"code": code}, token=dora)
    assert status == 201, grant
    assert raw(front, "GET", content, dora)[0] == 200
    # Revoked on B, refused on A; the glass broken on A, the report read on B, the access reviewed through nginx.
    assert call(b, "DELETE", f"/api/grants/{grant['id']}", token=ada)[0] == 204
    assert raw(a, "GET", content, dora)[0] == 403
    status, opened = call(a, "POST", "/api/emergency-accesses",
                          {"name": "Ada Patient", "dateOfBirth": "1980-02-29", "reason": "Unconscious in the ER"}, token=dora)
    assert status == 201, opened
    assert raw(b, "GET", content, dora)[0] == 200
    assert call(front, "POST", f"/api/emergency-accesses/{opened[0]['id']}/review", token=admin)[0] == 200
    either_outbox(pair, lambda data: outbox_mails(data, "emergency_access", "ada@example.org", timeout=0))

    # A proof of the same entry from each instance checks with the public key alone; the checkpoint log is one.
    key = cli(a, "audit", "signing-key").stdout.strip()
    entry = call(a, "GET", "/api/audit?limit=1000", token=ada)[1][0]["id"]
    for server in (a, b):
        status, proof = raw(server, "GET", f"/api/audit/entries/{entry}/proof", ada)
        assert status == 200, proof
        checked = subprocess.run([BIN, "audit", "check-proof", "-", "--key", key], input=proof, capture_output=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    sizes = [int(size) for size in psql(url, "SELECT size FROM audit_checkpoints ORDER BY id").split()]
    assert sizes == sorted(sizes) and len(sizes) >= 2, sizes
    verified = cli(b, "audit", "verify")
    assert verified.returncode == 0 and "audit ledger intact" in verified.stdout and "1 of 1 reports" not in verified.stdout, verified.stdout
    assert "reports: 1 of 1 point at an indexed chain" in verified.stdout, verified.stdout

    # The chain commands read the shared index: the chain uploaded through B is known from A's data root.
    checked = cli(a, "chain", "verify", "--all")
    assert checked.returncode == 0 and "1 of 1 chains ok" in checked.stdout, checked.stdout + checked.stderr
    rotated = cli(a, "keys", "rotate")
    assert rotated.returncode == 0 and "re-wrapped 1 data keys" in rotated.stdout, rotated.stdout + rotated.stderr
    for server in (a, b):
        status, downloaded = raw(server, "GET", content, ada)
        assert status == 200 and downloaded == report_bytes
    assert "0 orphan objects" in cli(a, "chain", "orphans").stdout
    # Without --database-url, a data root's empty index would make every chunk an orphan: refused.
    local = {k: v for k, v in {**os.environ, **a.settings}.items() if k != "CHAINVAULT_DATABASE_URL"}
    refused = subprocess.run([BIN, "chain", "orphans", "--delete", "--min-age", "0", "--data", str(a.data)], env=local,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "--database-url" in refused.stderr, refused.stdout + refused.stderr
    assert cli(a, "chain", "verify", "--all").returncode == 0, "nothing was deleted"


def test_the_checkpoint_publisher_is_taken_over_when_its_instance_dies(pair, seaweed, tmp_path):
    a, b, url = pair

    def holder():
        for server, log in ((a, tmp_path / "a.log"), (b, tmp_path / "b.log")):
            if any("took a role" in line and "checkpointPublisher" in line for line in log.read_text().splitlines()):
                return server
        return None

    deadline = time.monotonic() + 20
    while holder() is None:
        assert time.monotonic() < deadline, "no instance took the publisher's role"
        time.sleep(0.2)
    dead = holder()
    survivor = b if dead is a else a
    dead.process.send_signal(signal.SIGKILL)
    dead.process.wait(10)
    # The survivor appends (sign-ins) and, within a few of its looks, publishes the copies itself.
    patient = {"name": "Ada Patient", "email": "ada@example.org", "password": PASSWORD, "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
    assert call(survivor, "POST", "/api/patients", patient)[0] == 202
    token = activation_path(survivor.data, "ada@example.org").split("token=")[1]
    assert call(survivor, "POST", "/api/registrations/activation", {"token": token, "password": PASSWORD})[0] == 201
    login(survivor, "ada@example.org", PASSWORD)
    entries = int(psql(url, "SELECT count(*) FROM audit"))
    bucket = a.settings["CHAINVAULT_BUCKET_A"]
    deadline = time.monotonic() + 60
    while True:
        try:
            if published_size(seaweed, bucket) >= entries:
                break
        except Exception:
            pass
        assert time.monotonic() < deadline, "the surviving instance did not take over the checkpoint copies"
        time.sleep(0.5)
    survivor_log = (tmp_path / ("b.log" if survivor is b else "a.log")).read_text()
    assert "took a role" in survivor_log and "checkpointPublisher" in survivor_log


def test_a_hospital_moves_to_postgresql_and_back_whole(seaweed, tmp_path):
    """`hospital migrate`: a SQLite hospital (chains on SeaweedFS) into PostgreSQL, served from there, and back."""
    import json
    url = fresh_database()
    chains = {k: v for k, v in chain_settings(seaweed, url).items() if k != "CHAINVAULT_DATABASE_URL"}
    first = tmp_path / "first"
    server = start_server(first, {**chains, **SCHEDULING_AHEAD}, args=ARGS, stderr_path=tmp_path / "first.log")
    server.settings = {**chains, **shared_keys(first)}
    try:
        assert cli(server, "hospital", "add-doctor", "--name", "Carl Heart", "--specialization", "Cardiology", "carl@example.org",
                   input="stethoscope 42\n").returncode == 0
        carl, _ = login(server, "carl@example.org", "stethoscope 42")
        patient = {"name": "Ada Patient", "email": "ada@example.org", "password": PASSWORD, "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
        assert call(server, "POST", "/api/patients", patient)[0] == 202
        token = activation_path(first, "ada@example.org").split("token=")[1]
        assert call(server, "POST", "/api/registrations/activation", {"token": token, "password": PASSWORD})[0] == 201
        ada, ada_id = login(server, "ada@example.org", PASSWORD)
        completed_checkup(server, carl, ada)
        report_bytes = os.urandom(2 * 1024 * 1024 + 5)
        status, body = raw(server, "POST", f"/api/patients/{ada_id}/reports?title=Scan", carl, report_bytes, {"Content-Type": "application/pdf"})
        assert status == 201, body
        content = f"/api/reports/{json.loads(body)['id']}/content"
    finally:
        stop_server(server)

    # Into PostgreSQL: refused on a database that is not empty, proved on an empty one.
    moved = cli(server, "hospital", "migrate", "--to", url)
    assert moved.returncode == 0 and "proved: 1 reports' chains indexed and whole" in moved.stdout, moved.stdout + moved.stderr
    entries = int(psql(url, "SELECT count(*) FROM audit"))
    assert re.search(rf"the ledger of {entries} entries", moved.stdout), moved.stdout
    again = cli(server, "hospital", "migrate", "--to", url)
    assert again.returncode != 0 and "not empty" in again.stderr, again.stdout + again.stderr
    shared = {**chains, **shared_keys(first), "CHAINVAULT_DATABASE_URL": url}
    pg = start_server(tmp_path / "pg", {**shared, **SCHEDULING_AHEAD}, args=ARGS, stderr_path=tmp_path / "pg.log")
    pg.settings = shared
    try:
        ada, _ = login(pg, "ada@example.org", PASSWORD)
        status, downloaded = raw(pg, "GET", content, ada)
        assert status == 200 and downloaded == report_bytes
        verified = cli(pg, "audit", "verify")
        assert verified.returncode == 0 and "audit ledger intact" in verified.stdout, verified.stdout + verified.stderr
    finally:
        stop_server(pg)

    # And back into a data root of its own.
    back = tmp_path / "back"
    returned = subprocess.run([BIN, "hospital", "migrate", "--from", url, "--to", f"sqlite:{back}"], env={**os.environ, **chains, **shared_keys(first)},
                              capture_output=True, text=True, timeout=180)
    assert returned.returncode == 0 and "proved" in returned.stdout, returned.stdout + returned.stderr
    local = start_server(back, {**chains, **shared_keys(first)}, args=ARGS, stderr_path=tmp_path / "back.log")
    local.settings = {**chains, **shared_keys(first)}
    try:
        ada, _ = login(local, "ada@example.org", PASSWORD)
        status, downloaded = raw(local, "GET", content, ada)
        assert status == 200 and downloaded == report_bytes
    finally:
        stop_server(local)
    verified = cli(local, "audit", "verify")
    assert verified.returncode == 0 and "audit ledger intact" in verified.stdout, verified.stdout + verified.stderr


class HoldingInbox:
    """An SMTP server's mailbox that can hold every message's acceptance (the reply to DATA) while `holding`."""

    def __init__(self):
        self.messages = []
        self.holding = False
        self.waiting = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        self.waiting += 1
        while self.holding:
            await asyncio.sleep(0.05)
        self.waiting -= 1
        self.messages.append(envelope.content.decode())
        return "250 Message accepted"


@pytest.fixture
def mailing_pair(seaweed, tmp_path):
    """Instances A and B on one database, mailing through one real SMTP server (aiosmtpd, STARTTLS)."""
    from aiosmtpd.controller import Controller
    from test_smtp import smtp_tls
    cert, context = smtp_tls(tmp_path)
    inbox = HoldingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    controller.start()
    url = fresh_database()
    shared = {**chain_settings(seaweed, url), **SCHEDULING_AHEAD}
    args = (*ARGS, "--smtp-url", f"smtp://localhost:{controller.port}", "--smtp-from", "no-reply@hospital.example", "--smtp-ca-file", str(cert))
    a = start_server(tmp_path / "a", shared, args=args, stderr_path=tmp_path / "a.log")
    b = start_server(tmp_path / "b", {**shared, **shared_keys(tmp_path / "a")}, args=args, stderr_path=tmp_path / "b.log")
    a.settings = b.settings = {**shared, **shared_keys(tmp_path / "a")}
    yield a, b, url, inbox, controller.port
    stop_server(b)
    stop_server(a)
    controller.stop()


def message_ids(inbox, kind: str) -> list:
    return [re.search(r"Message-ID: <([^>]+)>", message).group(1) for message in inbox.messages if f"Message-ID: <{kind}-" in message]


def test_an_instance_killed_while_uploading_and_mailing_leaves_nothing_half_done(mailing_pair):
    """kill -9 of the instance handing a notice to the SMTP server, while reports upload through both: the other
    goes on, every stored report's chain is whole, and every notice arrives (once, or twice with one Message-ID)."""
    import json
    a, b, url, inbox, smtp_port = mailing_pair
    assert cli(a, "hospital", "add-doctor", "--name", "Carl Heart", "--specialization", "Cardiology", "carl@example.org",
               input="stethoscope 42\n").returncode == 0
    patient = {"name": "Ada Patient", "email": "ada@example.org", "password": PASSWORD, "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
    assert call(a, "POST", "/api/patients", patient)[0] == 202
    deadline = time.monotonic() + 30
    while not any("register/activate" in message for message in inbox.messages):
        assert time.monotonic() < deadline, "no sign-up link was mailed"
        time.sleep(0.1)
    link = re.search(r"register/activate\?token=([A-Za-z0-9_=-]+)", "".join(inbox.messages).replace("=\n", "")).group(1)
    assert call(b, "POST", "/api/registrations/activation", {"token": link, "password": PASSWORD})[0] == 201
    ada, ada_id = login(a, "ada@example.org", PASSWORD)
    carl, _ = login(a, "carl@example.org", "stethoscope 42")
    completed_checkup(a, carl, ada)

    inbox.holding = True
    uploads = {"a": [], "b": []}

    def name(server):
        return "a" if server is a else "b"

    def upload(server):
        for number in range(6):
            body = os.urandom(512 * 1024 + number)
            try:
                status, answer = raw(server, "POST", f"/api/patients/{ada_id}/reports?title=Scan{number}", carl, body,
                                     {"Content-Type": "application/pdf"})
                uploads[name(server)].append((status, answer, body))
            except OSError:
                uploads[name(server)].append((None, None, body))
            time.sleep(0.05)

    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(upload, server) for server in (a, b)]
        deadline = time.monotonic() + 60
        while inbox.waiting == 0:
            assert time.monotonic() < deadline, "no notice reached the SMTP server"
            time.sleep(0.05)
        # The instance with a connection to the SMTP server is the one handing a notice over: it dies mid-delivery.
        connected = subprocess.run(["ss", "-tnpH", "dst", f"127.0.0.1:{smtp_port}"], capture_output=True, text=True).stdout
        pids = {int(pid) for pid in re.findall(r"pid=(\d+)", connected)}
        dead = a if a.process.pid in pids else b
        survivor = b if dead is a else a
        dead.process.send_signal(signal.SIGKILL)
        dead.process.wait(10)
        inbox.holding = False
        for future in running:
            future.result()
    # The survivor goes on.
    status, answer = raw(survivor, "POST", f"/api/patients/{ada_id}/reports?title=After", carl, b"after the crash", {"Content-Type": "text/plain"})
    assert status == 201, answer
    assert all(status == 201 for status, _, _ in uploads[name(survivor)]), [status for status, _, _ in uploads[name(survivor)]]
    # Every report the database holds reads back whole, through the survivor.
    stored = {json.loads(answer)["id"]: body for status, answer, body in uploads["a"] + uploads["b"] if status == 201}
    reports = int(psql(url, "SELECT count(*) FROM reports"))
    assert reports >= len(stored) + 1
    for report_id, body in stored.items():
        status, downloaded = raw(survivor, "GET", f"/api/reports/{report_id}/content", ada)
        assert status == 200 and downloaded == body
    verified = cli(survivor, "chain", "verify", "--all")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # Every report's notice arrives: the one the dead instance had claimed is sent again once its claim runs out
    # (2 minutes), so the queue empties; the SMTP server took it from the dead one too, so it arrives twice.
    deadline = time.monotonic() + 240
    while psql(url, "SELECT count(*) FROM mail_queue") != "0" or len(set(message_ids(inbox, "new_report"))) < reports:
        assert time.monotonic() < deadline, f"{len(set(message_ids(inbox, 'new_report')))} of {reports} notices arrived"
        time.sleep(0.5)
    ids = message_ids(inbox, "new_report")
    assert len(set(ids)) == reports and len(ids) - len(set(ids)) <= 1, "every notice, at most one twice (with its Message-ID)"


def test_postgresql_stopped_under_load_answers_503_and_service_resumes(seaweed, tmp_path):
    """A PostgreSQL server of this test's own, stopped while requests run and started again."""
    bindir = next(path for path in [subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(),
                                    *sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)]
                  if path and Path(path, "pg_ctl").exists())
    import shutil
    import tempfile
    # Its own folder in /tmp: pytest's are root's alone, and the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="chainvault-pg-"))
    os.chmod(folder, 0o755)
    owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if owner:
        subprocess.run(["chown", "postgres:", str(folder)], check=True)
    subprocess.run([*owner, f"{bindir}/initdb", "-D", str(folder / "data"), "-U", "chainvault", "--auth=trust", "--no-sync"], check=True,
                   capture_output=True)
    port = free_port()

    def pg_ctl(*args):
        subprocess.run([*owner, f"{bindir}/pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-t", "60", *args],
                       check=True, capture_output=True)

    pg_ctl("-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    url = f"postgres://chainvault@127.0.0.1:{port}/postgres"
    shared = {**chain_settings(seaweed, url), **SCHEDULING_AHEAD}
    server = start_server(tmp_path / "a", shared, args=ARGS, stderr_path=tmp_path / "a.log")
    server.settings = {**shared, **shared_keys(tmp_path / "a")}
    try:
        patient = {"name": "Ada Patient", "email": "ada@example.org", "password": PASSWORD, "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
        assert call(server, "POST", "/api/patients", patient)[0] == 202
        token = activation_path(server.data, "ada@example.org").split("token=")[1]
        assert call(server, "POST", "/api/registrations/activation", {"token": token, "password": PASSWORD})[0] == 201
        ada, _ = login(server, "ada@example.org", PASSWORD)
        answers = []
        stop = time.monotonic() + 1e9

        def load():
            while time.monotonic() < stop:
                try:
                    answers.append(call(server, "GET", "/api/me", token=ada)[0])
                except OSError as error:
                    answers.append(repr(error))
                time.sleep(0.02)

        with ThreadPoolExecutor(3) as pool:
            running = [pool.submit(load) for _ in range(3)]
            time.sleep(1)
            pg_ctl("stop", "-m", "fast")
            time.sleep(12)
            # While it is away: 503 database_unavailable with Retry-After, the hospital not ready, the gateway serving.
            status, body = call(server, "GET", "/api/me", token=ada)
            assert status == 503 and body["error"]["code"] == "database_unavailable", body
            assert call(server, "GET", "/-/health/ready")[0] == 503
            with urllib.request.urlopen(server.endpoint + "/-/health/ready", timeout=10) as ready:
                assert ready.status == 200
            pg_ctl("-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
            deadline = time.monotonic() + 60
            while call(server, "GET", "/api/me", token=ada)[0] != 200:
                assert time.monotonic() < deadline, "the service did not resume by itself"
                time.sleep(0.5)
            stop = time.monotonic()
            for future in running:
                future.result()
        assert set(answers) <= {200, 503}, set(answers)
        assert 503 in answers and answers[-1] == 200
        assert call(server, "GET", "/-/health/ready")[0] == 200
        verified = cli(server, "audit", "verify")
        assert verified.returncode == 0 and "audit ledger intact" in verified.stdout, verified.stdout + verified.stderr
    finally:
        stop_server(server)
        subprocess.run([*owner, f"{bindir}/pg_ctl", "-D", str(folder / "data"), "stop", "-m", "immediate"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def serve_once(tmp_path: Path, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, "serve", "--data", str(tmp_path / uuid.uuid4().hex[:8]), "--s3-port", "0", "--hospital-port", "0", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_a_database_that_cannot_be_used_stops_start_up_with_its_reason(seaweed, tmp_path):
    url = fresh_database()
    # Chains in the local data root cannot be shared: refused before anything starts.
    local = serve_once(tmp_path, {"CHAINVAULT_DATABASE_URL": url})
    assert local.returncode == 78 and "--endpoint-a" in local.stderr, local.stderr
    remote = chain_settings(seaweed, url)
    # Nothing listens there: exit 75 (try again later), naming the server and why.
    closed = serve_once(tmp_path, {**remote, "CHAINVAULT_DATABASE_URL": "postgres://chainvault@127.0.0.1:1/postgres"})
    assert closed.returncode == 75, closed.stderr
    assert "127.0.0.1:1" in closed.stderr and "cannot connect" in closed.stderr, closed.stderr
    missing = serve_once(tmp_path, {**remote, "CHAINVAULT_DATABASE_URL": url + "_missing"})
    assert missing.returncode == 75 and "has no database" in missing.stderr, missing.stderr
    # A password in the URL is refused: it would show in `ps` and in files people paste.
    with_password = serve_once(tmp_path, {**remote, "CHAINVAULT_DATABASE_URL": url.replace("chainvault@", "chainvault:secret@")})
    assert with_password.returncode != 0 and "password" in with_password.stderr and "secret" not in with_password.stderr
    # Another application's database is not written into.
    foreign = fresh_database()
    psql(foreign, "CREATE TABLE orders (id int)")
    other = serve_once(tmp_path, {**remote, "CHAINVAULT_DATABASE_URL": foreign})
    assert other.returncode == 78 and "another application" in other.stderr, other.stderr
