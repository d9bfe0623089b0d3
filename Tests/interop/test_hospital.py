"""The hospital API that `chainvault serve` starts beside the gateway: registration, login, the first
admin created on the command line, staff created through the API, logout, and JSON errors."""
import datetime
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from conftest import BIN, activation_path, outbox_code, outbox_mails, start_server, stop_server


def call(server, method, path, body=None, token=None):
    request = urllib.request.Request(server.hospital + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_accounts_through_the_hospital_api(server):
    assert server.hospital.startswith("http://127.0.0.1:")
    ada = {"name": "Ada Patient", "email": "ada-it@example.org", "password": "correct horse battery", "dateOfBirth": "1985-04-12",
           "phone": "+44 20 7946 0000"}
    assert call(server, "POST", "/api/patients", ada) == (202, None)
    user = activate(server, "ada-it@example.org", "correct horse battery")
    assert user["role"] == "patient" and "passwordHash" not in user
    status, error = call(server, "POST", "/api/patients", {"name": "Ada", "email": "not-an-address"})
    assert status == 400 and error["error"]["code"] == "invalid_field"
    # Signing up again with a taken address answers the same; its owner is told, nothing of hers changes.
    assert call(server, "POST", "/api/patients", dict(ada, password="another long passphrase")) == (202, None)
    told = outbox_mails(server.data, "attempt", "ada-it@example.org")[0]
    assert told["Subject"] == "Someone tried to register with your address" and "token" not in told.get_content()

    status, session = call(server, "POST", "/api/sessions", {"email": "ada-it@example.org", "password": "correct horse battery"})
    assert status == 201
    assert call(server, "GET", "/api/me", token=session["token"])[1]["email"] == "ada-it@example.org"
    status, error = call(server, "POST", "/api/sessions", {"email": "ada-it@example.org", "password": "wrong password!"})
    assert status == 401 and error["error"]["code"] == "bad_credentials"

    # The first admin comes from the command line, its password on standard input.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    created = subprocess.run([BIN, "hospital", "add-admin", "--data", str(server.data), "--name", "Root", "root-it@example.org"],
                             input="admin password 1\n", capture_output=True, text=True, env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    assert "admin password 1" not in created.stdout + created.stderr
    weak = subprocess.run([BIN, "hospital", "add-admin", "--data", str(server.data), "--name", "Weak", "weak-it@example.org"],
                          input="password123\n", capture_output=True, text=True, env=env, timeout=120)
    assert weak.returncode != 0 and "too common" in weak.stderr

    admin = call(server, "POST", "/api/sessions", {"email": "root-it@example.org", "password": "admin password 1"})[1]["token"]
    doctor = {"role": "doctor", "name": "Dr Who", "email": "who-it@example.org", "password": "tardis blue box", "specialization": "Cardiology"}
    assert call(server, "POST", "/api/staff", doctor, token=session["token"])[0] == 403
    status, created_doctor = call(server, "POST", "/api/staff", doctor, token=admin)
    assert status == 201 and created_doctor["specialization"] == "Cardiology"

    assert call(server, "DELETE", "/api/sessions/current", token=session["token"])[0] == 204
    status, error = call(server, "GET", "/api/me", token=session["token"])
    assert status == 401 and error["error"]["code"] == "unauthenticated"


def raw(server, method, path, token, data=None, headers=None):
    """A request whose body (and answer) are bytes: report uploads and downloads."""
    request = urllib.request.Request(server.hospital + path, method=method, data=data)
    request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rfc3339(seconds_from_now):
    return datetime.datetime.fromtimestamp(int(time.time()) + seconds_from_now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def login(server, email, password):
    status, session = call(server, "POST", "/api/sessions", {"email": email, "password": password})
    assert status == 201, session
    return session["token"], session["user"]["id"]


def activate(server, email, password, path=None):
    """Opens the account of a sign-up with the link e-mailed to `email` (from the outbox, or `path`)."""
    token = (path or activation_path(server.data, email)).split("token=")[1]
    status, user = call(server, "POST", "/api/registrations/activation", {"token": token, "password": password})
    assert status == 201, user
    return user


def register(server, name, email, link=None):
    """Signs a patient up and opens the account with the e-mailed link (`link(email)` finds its path where
    mail does not go to the outbox); their session's token and id."""
    patient = {"name": name, "email": email, "password": "correct horse battery", "dateOfBirth": "1980-02-29", "phone": "+1 555 0100"}
    assert call(server, "POST", "/api/patients", patient)[0] == 202
    activate(server, email, "correct horse battery", path=link(email) if link else None)
    return login(server, email, "correct horse battery")


@pytest.fixture
def hospital(tmp_path):
    data = tmp_path / "data"
    s = start_server(data, {"CHAINVAULT_ACCESS_KEY": "HOSPITALE2EROOTKEY01", "CHAINVAULT_SECRET_KEY": "e2e-secret-" + uuid.uuid4().hex})
    yield s
    stop_server(s)


def test_a_report_from_checkup_to_consented_access_and_an_intact_ledger(hospital, tmp_path):
    server = hospital
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    subprocess.run([BIN, "hospital", "add-admin", "--data", str(server.data), "--name", "Root", "root@example.org"],
                   input="admin password 1\n", capture_output=True, text=True, env=env, timeout=120, check=True)
    admin, _ = login(server, "root@example.org", "admin password 1")
    doctors = {}
    for name, email, specialization in [("Carl Heart", "carl@example.org", "Cardiology"), ("Dora Skin", "dora@example.org", "Dermatology")]:
        status, _ = call(server, "POST", "/api/staff", {"role": "doctor", "name": name, "email": email, "password": "stethoscope 42",
                                                        "specialization": specialization}, token=admin)
        assert status == 201
        doctors[email] = login(server, email, "stethoscope 42")
    (doctor1, doctor1_id), (doctor2, _) = doctors["carl@example.org"], doctors["dora@example.org"]
    ada, ada_id = register(server, "Ada Patient", "ada@example.org")
    bob, _ = register(server, "Bob Patient", "bob@example.org")
    assert [d["name"] for d in call(server, "GET", "/api/doctors?specialization=cardio")[1]] == ["Carl Heart"]

    # A slot starting in 3 s: booked by Ada; Bob's concurrent bookings of a second slot: exactly one of two wins.
    status, slot = call(server, "POST", "/api/slots", {"startsAt": rfc3339(3), "durationMinutes": 15}, token=doctor1)
    assert status == 201, slot
    assert call(server, "POST", f"/api/slots/{slot['id']}/booking", token=ada)[0] == 200
    status, other = call(server, "POST", "/api/slots", {"startsAt": rfc3339(3600), "durationMinutes": 15}, token=doctor1)
    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda token: call(server, "POST", f"/api/slots/{other['id']}/booking", token=token)[0], [ada, bob]))
    assert outcomes == [200, 409]
    # A checkup is completed once its slot has started: the server's clock says when, asked until it does.
    deadline = time.monotonic() + 30
    while True:
        status, done = call(server, "POST", f"/api/slots/{slot['id']}/completion", token=doctor1)
        if status == 200 or time.monotonic() > deadline:
            break
        assert status == 409 and done["error"]["code"] == "checkup_not_started", done
        time.sleep(0.1)  # polling the server's answer, not ordering two events
    assert status == 200 and done["status"] == "completed"

    # Doctor 1 uploads 5 MiB; its chunks are in both report buckets, seen through the S3 API.
    report_bytes = os.urandom(5 * 1024 * 1024)
    status, body = raw(server, "POST", f"/api/patients/{ada_id}/reports?title=Echocardiogram", doctor1, report_bytes,
                       {"Content-Type": "application/pdf"})
    assert status == 201, body
    report = json.loads(body)
    assert report["size"] == len(report_bytes) and report["sha256"] == hashlib.sha256(report_bytes).hexdigest()
    s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                      aws_secret_access_key=server.secret_key, region_name="us-east-1")
    # Chunks only: the audit ledger's checkpoint copy (chainvault-audit-checkpoint) is beside them.
    counts = {bucket: sum(1 for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if not o["Key"].startswith("chainvault-audit-"))
              for bucket in ("reports-a", "reports-b")}
    assert counts["reports-a"] > 0 and counts["reports-b"] > 0 and sum(counts.values()) == 5, counts  # 5 MiB in 1 MiB chunks

    status, downloaded = raw(server, "GET", f"/api/reports/{report['id']}/content", ada)
    assert status == 200 and downloaded == report_bytes
    # A doctor who has no appointment with Ada: as for a report that does not exist (issue 27, item 7).
    assert raw(server, "GET", f"/api/reports/{report['id']}/content", doctor2)[0] == 404

    # Doctor 2 may ask only once Ada has an appointment with them: before, the report is "not found".
    status, refused = call(server, "POST", f"/api/reports/{report['id']}/access-requests", token=doctor2)
    assert status == 404 and "Echocardiogram" not in json.dumps(refused)
    status, visit = call(server, "POST", "/api/slots", {"startsAt": rfc3339(7200), "durationMinutes": 15}, token=doctor2)
    assert status == 201 and call(server, "POST", f"/api/slots/{visit['id']}/booking", token=ada)[0] == 200

    # Five wrong codes void a request; a new request's code from the outbox grants access.
    status, request = call(server, "POST", f"/api/reports/{report['id']}/access-requests", token=doctor2)
    assert status == 201
    code = outbox_code(server.data, request["id"])
    wrong = "".join("1" if c == "0" else "0" for c in code)
    for _ in range(5):
        assert call(server, "POST", f"/api/access-requests/{request['id']}/redemption", {"code": wrong}, token=doctor2)[0] == 403
    status, error = call(server, "POST", f"/api/access-requests/{request['id']}/redemption", {"code": code}, token=doctor2)
    assert status == 409 and error["error"]["code"] == "request_void"
    request = call(server, "POST", f"/api/reports/{report['id']}/access-requests", token=doctor2)[1]
    assert [r["doctorName"] for r in call(server, "GET", "/api/access-requests?status=pending", token=ada)[1]] == ["Dora Skin"]
    status, grant = call(server, "POST", f"/api/access-requests/{request['id']}/redemption",
                         {"code": outbox_code(server.data, request["id"])}, token=doctor2)
    assert status == 201
    status, downloaded = raw(server, "GET", f"/api/reports/{report['id']}/content", doctor2)
    assert status == 200 and downloaded == report_bytes

    # The patient revokes; doctor 2 is refused again; Bob never sees Ada's report.
    assert call(server, "DELETE", f"/api/grants/{grant['id']}", token=ada)[0] == 204
    assert raw(server, "GET", f"/api/reports/{report['id']}/content", doctor2)[0] == 403
    assert call(server, "GET", "/api/reports", token=bob)[1] == []
    assert raw(server, "GET", f"/api/reports/{report['id']}/content", bob)[0] == 404
    mine = call(server, "GET", "/api/audit?limit=1000", token=ada)[1]
    assert any(e["action"] == "download" and e["outcome"] == "success" and e["actorId"] != ada_id for e in mine)

    # The ledger verifies, and names the entry edited behind the service's back.
    verify = [BIN, "audit", "verify", "--data", str(server.data)]
    checked = subprocess.run(verify, capture_output=True, text=True, env=env, timeout=60)
    assert checked.returncode == 0 and "intact" in checked.stdout, checked.stdout + checked.stderr
    with sqlite3.connect(server.data / ".chainvault" / "hospital.sqlite") as db:
        db.execute("UPDATE audit SET outcome = 'denied' WHERE id = 5")
    broken = subprocess.run(verify, capture_output=True, text=True, env=env, timeout=60)
    assert broken.returncode == 1 and "entry 5" in broken.stdout, broken.stdout + broken.stderr


# The environment of a server whose scheduling clock runs two minutes ahead of the wall clock
# (CHAINVAULT_TEST_SCHEDULING_OFFSET, for tests only): a slot published a minute ahead has started, so a
# checkup is completed without waiting for the wall clock to reach it.
SCHEDULING_AHEAD = {"CHAINVAULT_TEST_SCHEDULING_OFFSET": "120"}


def completed_checkup(server, doctor, patient):
    """A slot the doctor publishes a minute ahead, the patient books and the doctor completes at once (on a server
    started with SCHEDULING_AHEAD)."""
    status, slot = call(server, "POST", "/api/slots", {"startsAt": rfc3339(60), "durationMinutes": 15}, token=doctor)
    assert status == 201, slot
    assert call(server, "POST", f"/api/slots/{slot['id']}/booking", token=patient)[0] == 200
    status, body = call(server, "POST", f"/api/slots/{slot['id']}/completion", token=doctor)
    assert status == 200, body
    return slot

