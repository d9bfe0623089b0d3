"""The audit ledger an insider cannot rewrite, through the real binary and its files: the signing key made at
first start, checkpoints in the checkpoint file and both report buckets, proofs in patients' e-mails that
`chainvault audit check-proof` accepts with only the public key, `audit verify` naming each attack, a restore
accepted with a reason, and emergency access from reason to review."""
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import boto3

from conftest import BIN, outbox_mails, start_server, stop_server
from test_hospital import SCHEDULING_AHEAD, call, completed_checkup, login, raw, register, rfc3339

ENV = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
KEYS = {"CHAINVAULT_ACCESS_KEY": "AUDITLEDGERROOTKEY01", "CHAINVAULT_SECRET_KEY": "audit-secret-" + uuid.uuid4().hex, **SCHEDULING_AHEAD}


def serve(data: Path):
    return start_server(data, KEYS, args=("--audit-checkpoint-interval", "1", "--audit-origin", "hospital.example/audit"))


def cli(*args, input=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=ENV, timeout=120, input=input)


def verifier(data: Path) -> str:
    printed = cli("audit", "signing-key", "--data", str(data))
    assert printed.returncode == 0, printed.stderr
    return printed.stdout.strip()


def checkpoints(data: Path) -> list:
    """The tree sizes of the checkpoint file's records."""
    path = data / ".chainvault" / "audit-checkpoints"
    if not path.exists():
        return []
    return [int(record.split("\n")[1]) for record in path.read_text().split("\n\n") if record.startswith("hospital.example/audit\n")]


def ledger_size(data: Path) -> int:
    with sqlite3.connect(data / ".chainvault" / "hospital.sqlite") as db:
        return db.execute("SELECT count(*) FROM audit").fetchone()[0]


def until_signed(data: Path, timeout=20):
    """Waits for the checkpoint that covers the whole ledger (signed every second while it grows)."""
    deadline = time.monotonic() + timeout
    while not checkpoints(data) or checkpoints(data)[-1] < ledger_size(data):
        assert time.monotonic() < deadline, f"no checkpoint of {ledger_size(data)} entries: {checkpoints(data)}"
        time.sleep(0.1)
    return checkpoints(data)[-1]


def scene(server):
    """An admin, two doctors, a patient, a completed checkup and a report by doctor 1 about the patient."""
    cli("hospital", "add-admin", "--data", str(server.data), "--name", "Root", "root@example.org", input="admin password 1\n")
    admin, _ = login(server, "root@example.org", "admin password 1")
    tokens = {}
    for name, email in [("Carl Heart", "carl@example.org"), ("Dora Skin", "dora@example.org")]:
        status, _ = call(server, "POST", "/api/staff", {"role": "doctor", "name": name, "email": email, "password": "stethoscope 42",
                                                        "specialization": "Cardiology"}, token=admin)
        assert status == 201
        tokens[email] = login(server, email, "stethoscope 42")[0]
    ada, ada_id = register(server, "Ada Patient", "ada@example.org")
    completed_checkup(server, tokens["carl@example.org"], ada)
    status, body = raw(server, "POST", f"/api/patients/{ada_id}/reports?title=Echo", tokens["carl@example.org"], os.urandom(5000),
                       {"Content-Type": "application/pdf"})
    assert status == 201, body
    return {"admin": admin, "carl": tokens["carl@example.org"], "dora": tokens["dora@example.org"], "ada": ada, "ada_id": ada_id,
            "report": json.loads(body)["id"]}


def check_proof(path, key):
    return cli("audit", "check-proof", str(path), "--key", key)


def test_a_patients_emails_carry_proofs_that_the_public_key_alone_checks(tmp_path):
    server = serve(tmp_path / "data")
    try:
        assert any(line.startswith("Generated the audit ledger's signing key") for line in server.lines), server.lines
        key = verifier(server.data)
        assert key.startswith("hospital.example/audit+") and key in server.lines
        people = scene(server)

        # The new-report notice, as the outbox holds it (a raw e-mail), checks with only the public key.
        mail = outbox_mails(server.data, "new_report", "ada@example.org")[0]
        saved = tmp_path / "new-report.eml"
        saved.write_bytes(mail.as_bytes())
        checked = check_proof(saved, key)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "proof OK" in checked.stdout and "action: upload" in checked.stdout and f"patient: {people['ada_id']}" in checked.stdout
        # A changed proof hash, or another key, is refused.
        body = mail.get_content()
        proof = body[body.index("c2sp.org/tlog-proof@v1"):].replace("\r\n", "\n")
        lines = proof.split("\n")
        hash_line = next(i for i, line in enumerate(lines) if len(line) == 44 and line.endswith("="))
        lines[hash_line] = ("A" if lines[hash_line][0] != "A" else "B") + lines[hash_line][1:]
        (tmp_path / "changed.tlog-proof").write_text("\n".join(lines))
        refused = check_proof(tmp_path / "changed.tlog-proof", key)
        assert refused.returncode == 1 and "REFUSED" in refused.stdout
        other = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        assert check_proof(saved, other).returncode != 0

        # The access code's e-mail carries the proof of the request's entry.
        status, request = call(server, "POST", f"/api/reports/{people['report']}/access-requests", token=people["carl"])
        assert status == 409  # the author needs no code; a doctor who treats Ada asks
        status, visit = call(server, "POST", "/api/slots", {"startsAt": rfc3339(3600), "durationMinutes": 15}, token=people["dora"])
        assert call(server, "POST", f"/api/slots/{visit['id']}/booking", token=people["ada"])[0] == 200
        status, request = call(server, "POST", f"/api/reports/{people['report']}/access-requests", token=people["dora"])
        assert status == 201
        code_mail = server.data / ".chainvault" / "outbox" / f"request-{request['id']}.eml"
        checked = check_proof(code_mail, key)
        assert checked.returncode == 0 and "action: access_request" in checked.stdout, checked.stdout + checked.stderr

        # The API: the latest checkpoint (public), a patient's proof of an entry about her (checked from standard input).
        with urllib.request.urlopen(server.hospital + "/api/audit/checkpoint", timeout=30) as response:
            note = response.read().decode()
        assert note.startswith("hospital.example/audit\n") and "\n\n— hospital.example/audit " in note
        entries = call(server, "GET", "/api/audit?limit=1000", token=people["ada"])[1]
        assert entries and all(entry["proof"].startswith("c2sp.org/tlog-proof@v1\n") for entry in entries)
        status, proof = raw(server, "GET", f"/api/audit/entries/{entries[0]['id']}/proof", people["ada"])
        assert status == 200
        piped = subprocess.run([BIN, "audit", "check-proof", "-", "--key", key], input=proof, capture_output=True, env=ENV, timeout=60)
        assert piped.returncode == 0, piped.stdout + piped.stderr
        assert raw(server, "GET", f"/api/audit/entries/{entries[0]['id']}/proof", people["dora"])[0] == 404
        size = int(note.split("\n")[1])
        status, consistency = call(server, "GET", f"/api/audit/consistency?from=1&to={size}")
        assert status == 200 and consistency["to"] == size and len(consistency["proof"]) >= 1

        # Both report buckets hold the latest checkpoint; `chain orphans` does not count it.
        until_signed(server.data)
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=KEYS["CHAINVAULT_ACCESS_KEY"],
                          aws_secret_access_key=KEYS["CHAINVAULT_SECRET_KEY"], region_name="us-east-1")
        deadline = time.monotonic() + 20
        while True:
            copies = [s3.get_object(Bucket=bucket, Key="chainvault-audit-checkpoint")["Body"].read().decode()
                      for bucket in ("reports-a", "reports-b")]
            if all(int(copy.split("\n")[1]) >= size for copy in copies) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert all(copy.startswith("hospital.example/audit\n") and int(copy.split("\n")[1]) >= size for copy in copies), copies
        orphans = cli("chain", "orphans", "--data", str(server.data))
        assert orphans.returncode == 0 and "chainvault-audit" not in orphans.stdout, orphans.stdout
    finally:
        stop_server(server)
    verified = cli("audit", "verify", "--data", str(server.data), "--key", key)
    assert verified.returncode == 0 and "audit ledger intact" in verified.stdout, verified.stdout + verified.stderr


def test_emergency_access_from_reason_to_review(tmp_path):
    server = serve(tmp_path / "data")
    try:
        key = verifier(server.data)
        people = scene(server)
        # Dora has never seen Ada: the report is "not found" to her, and no report id breaks the glass (issue 27, N12);
        # she finds Ada by name and date of birth.
        assert raw(server, "GET", f"/api/reports/{people['report']}/content", people["dora"])[0] == 404
        assert call(server, "POST", f"/api/reports/{people['report']}/emergency-access", {"reason": "Unconscious in the ER"},
                    token=people["dora"])[0] == 404
        ada = {"name": "Ada Patient", "dateOfBirth": "1980-02-29"}
        status, error = call(server, "POST", "/api/emergency-accesses", {**ada, "reason": "help"}, token=people["dora"])
        assert status == 400 and error["error"]["field"] == "reason"
        status, error = call(server, "POST", "/api/emergency-accesses", {**ada, "dateOfBirth": "1980-03-01", "reason": "Unconscious in the ER"},
                             token=people["dora"])
        assert status == 404 and error["error"]["code"] == "not_found"
        status, opened = call(server, "POST", "/api/emergency-accesses", {**ada, "reason": "Unconscious in the ER, suspected arrhythmia"},
                              token=people["dora"])
        assert status == 201 and [access["reportId"] for access in opened] == [people["report"]], opened
        opened = opened[0]
        assert opened["reason"] == "Unconscious in the ER, suspected arrhythmia"
        assert raw(server, "GET", f"/api/reports/{people['report']}/content", people["dora"])[0] == 200

        # The patient is e-mailed at once, with the reason and the entry's proof.
        mail = outbox_mails(server.data, "emergency_access", "ada@example.org")[0]
        assert "Unconscious in the ER, suspected arrhythmia" in mail.get_content() and "Dora Skin" in mail.get_content()
        saved = tmp_path / "emergency.eml"
        saved.write_bytes(mail.as_bytes())
        checked = check_proof(saved, key)
        assert checked.returncode == 0 and "action: emergency" in checked.stdout, checked.stdout + checked.stderr

        # The admins' review list, and the ledger.
        waiting = call(server, "GET", "/api/emergency-accesses?status=unreviewed", token=people["admin"])[1]
        assert [entry["id"] for entry in waiting] == [opened["id"]]
        status, reviewed = call(server, "POST", f"/api/emergency-accesses/{opened['id']}/review", token=people["admin"])
        assert status == 200 and reviewed["reviewedAt"]
        assert call(server, "GET", "/api/emergency-accesses?status=unreviewed", token=people["admin"])[1] == []
        ledger = call(server, "GET", "/api/audit?limit=1000", token=people["admin"])[1]
        actions = [(entry["action"], entry["detail"]) for entry in ledger]
        assert ("emergency", "Unconscious in the ER, suspected arrhythmia") in actions and ("download", "emergency access") in actions
        assert any(action == "emergency_reviewed" for action, _ in actions)
    finally:
        stop_server(server)


def chain_hash(previous: bytes, row) -> bytes:
    """The per-entry chain hash, as an insider recomputes it (AuditEntry.digest): the eight fields, and for a version-2
    entry the three names its leaf carries."""
    digest = hashlib.sha256(b"chainvault-audit-v1" + previous)
    entry_id, when, actor, action, subject, patient, outcome, detail, version, actor_name, patient_name, title = row
    names = [actor_name or "", patient_name or "", title or ""] if version >= 2 else []
    for field in [str(entry_id), str(when), "-" if actor is None else str(actor), action, subject,
                  "-" if patient is None else str(patient), outcome, detail] + names:
        data = field.encode()
        digest.update(struct.pack(">I", len(data)) + data)
    return digest.digest()


def rewrite(database: Path, entry: int):
    """Edits one entry and recomputes its hash and every later one."""
    with sqlite3.connect(database) as db:
        db.execute("UPDATE audit SET detail = 'nothing to see' WHERE id = ?", (entry,))
        previous = db.execute("SELECT hash FROM audit WHERE id = ?", (entry - 1,)).fetchone()[0]
        for row in db.execute("SELECT id, time, actorId, action, subject, patientId, outcome, detail, leafVersion, leafActorName, "
                              "leafPatientName, leafReportTitle FROM audit WHERE id >= ? ORDER BY id", (entry,)).fetchall():
            current = chain_hash(previous, row)
            db.execute("UPDATE audit SET previousHash = ?, hash = ? WHERE id = ?", (previous, current, row[0]))
            previous = current


def verify(data: Path, key: str):
    result = cli("audit", "verify", "--data", str(data), "--key", key)
    return result.returncode, result.stdout + result.stderr


def refuses_to_start(data: Path) -> str:
    result = subprocess.run([BIN, "serve", "--data", str(data), "--s3-port", "0", "--hospital-port", "0"], capture_output=True, text=True,
                            env={**ENV, **KEYS}, timeout=60)
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_audit_verify_names_each_attack(tmp_path):
    data = tmp_path / "data"
    server = serve(data)
    try:
        key = verifier(data)
        scene(server)
        until_signed(data)
    finally:
        stop_server(server)
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(data / ".chainvault" / "hospital.sqlite") as db, sqlite3.connect(backup) as copy:
        db.backup(copy)
    # After a restart the honest ledger grows, is signed again, and verifies.
    server = serve(data)
    try:
        for _ in range(3):
            login(server, "root@example.org", "admin password 1")
        size = until_signed(data)
    finally:
        stop_server(server)
    assert verify(data, key)[0] == 0

    def attacked(name):
        root = tmp_path / name
        shutil.copytree(data, root)
        return root

    # The newest three entries deleted.
    root = attacked("tail")
    with sqlite3.connect(root / ".chainvault" / "hospital.sqlite") as db:
        db.execute("DELETE FROM audit WHERE id > ?", (size - 3,))
    status, report = verify(root, key)
    assert status == 1 and f"entries {size - 2}…{size} are missing" in report and "rollback" in report, report
    assert "rolled back" in refuses_to_start(root)

    # One entry edited, every later hash recomputed.
    root = attacked("edit")
    rewrite(root / ".chainvault" / "hospital.sqlite", 5)
    status, report = verify(root, key)
    assert status == 1 and "entry 5 is not the entry the Merkle tree recorded" in report, report
    # serve checks the entries against the tree at start-up, as audit verify does (issue 27, N7).
    assert "entries do not match its Merkle tree" in refuses_to_start(root)

    # The tree rebuilt too: the signed checkpoints still name the rewrite.
    with sqlite3.connect(root / ".chainvault" / "hospital.sqlite") as db:
        db.execute("DELETE FROM auditTree")
    status, report = verify(root, key)
    assert status == 1 and "rewritten history" in report, report

    # An older copy of the database put in place; the operator then accepts it as a restore, with a reason.
    root = attacked("rollback")
    shutil.copy(backup, root / ".chainvault" / "hospital.sqlite")
    for suffix in ("-wal", "-shm"):
        (root / ".chainvault" / f"hospital.sqlite{suffix}").unlink(missing_ok=True)
    status, report = verify(root, key)
    assert status == 1 and "rollback" in report, report
    assert "accept-restore" in refuses_to_start(root)
    accepted = cli("audit", "accept-restore", "--data", str(root), "--reason", "disk failure: restored the nightly backup")
    assert accepted.returncode == 0, accepted.stderr
    status, report = verify(root, key)
    assert status == 0 and "restore accepted" in report and "disk failure: restored the nightly backup" in report, report
    restarted = serve(root)
    stop_server(restarted)

    # A checkpoint file signed by another key (another instance's).
    other = tmp_path / "other"
    server = serve(other)
    try:
        until_signed(other)
    finally:
        stop_server(server)
    root = attacked("forged")
    shutil.copy(other / ".chainvault" / "audit-checkpoints", root / ".chainvault" / "audit-checkpoints")
    status, report = verify(root, key)
    assert status == 1 and "bad checkpoint" in report and "no signature by a trusted key" in report, report
    assert "did not sign" in refuses_to_start(root)

    # The checkpoint file removed: the copies in the buckets name it.
    root = attacked("removed")
    (root / ".chainvault" / "audit-checkpoints").unlink()
    status, report = verify(root, key)
    assert status == 1 and "the checkpoint file is missing" in report, report
    assert "missing or empty" in refuses_to_start(root)

    # The signing key removed: a new one is not made over an existing history.
    root = attacked("keyless")
    (root / ".chainvault" / "audit-signing.key").unlink()
    refusal = refuses_to_start(root)
    assert "audit signing key" in refusal and "is missing" in refusal and "restore the key" in refusal, refusal


def test_the_portal_breaks_the_glass_shows_verified_entries_and_the_review_list(tmp_path):
    """In Debian's chromium: the doctor's emergency form, the patient's verified history with its proof file, the admins'
    review list."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright import sync_api
    from conftest import portal_sign_in
    axe = Axe()

    def accessible(page):
        results = axe.run(page)
        assert results.violations_count == 0, f"{page.url}: {results.generate_report()}"
    server = serve(tmp_path / "data")
    try:
        key = verifier(server.data)
        people = scene(server)
        status, visit = call(server, "POST", "/api/slots", {"startsAt": rfc3339(3600), "durationMinutes": 15}, token=people["dora"])
        assert status == 201 and call(server, "POST", f"/api/slots/{visit['id']}/booking", token=people["ada"])[0] == 200
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            problems = []

            def person(email, password):
                context = browser.new_context(base_url=server.portal.rstrip("/"), accept_downloads=True)
                page = context.new_page()
                page.on("console", lambda message: problems.append(message.text)
                        if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
                page.on("pageerror", lambda error: problems.append(str(error)))
                portal_sign_in(page, email, password)
                return page

            doctor = person("dora@example.org", "stethoscope 42")
            doctor.goto("/access")
            doctor.get_by_role("link", name="Emergency access").click()
            assert "e-mailed at once" in doctor.locator(".warning").inner_text()
            accessible(doctor)
            doctor.get_by_label("Patient's name").fill("Ada Patient")
            doctor.get_by_label("Date of birth").fill("1980-02-29")
            # Ten spaces pass the browser's own check (minlength) but not the server's (trimmed, 10 to 300 characters).
            doctor.get_by_label("Why is this an emergency?").fill(" " * 10)
            doctor.get_by_role("button", name="Open in an emergency").click()
            assert "10 to 300 characters" in doctor.get_by_role("alert").inner_text()
            accessible(doctor)
            doctor.get_by_label("Why is this an emergency?").fill("Unconscious on arrival, needs the echo findings now")
            doctor.get_by_role("button", name="Open in an emergency").click()
            doctor.wait_for_url("**/access?done=emergency")
            assert doctor.get_by_role("link", name="Download Echo").is_visible()

            patient = person("ada@example.org", "correct horse battery")
            patient.goto("/history")
            row = patient.locator("tr", has_text="Opened in an emergency")
            assert row.get_by_role("link", name="✓ verified").is_visible()
            assert key in patient.locator("main").inner_text()
            accessible(patient)
            with patient.expect_download() as download:
                row.get_by_role("link", name="✓ verified").click()
            saved = tmp_path / "entry.tlog-proof"
            download.value.save_as(saved)
            checked = check_proof(saved, key)
            assert checked.returncode == 0 and "action: emergency" in checked.stdout, checked.stdout + checked.stderr

            admin = person("root@example.org", "admin password 1")
            admin.goto("/admin/emergency")
            assert "Unconscious on arrival, needs the echo findings now" in admin.locator("table").inner_text()
            accessible(admin)
            admin.get_by_role("button", name="Mark reviewed").click()
            admin.wait_for_url("**/admin/emergency?done=reviewed")
            assert admin.get_by_role("status").inner_text() == "Marked reviewed."
            assert admin.locator("table").count() == 0
            browser.close()
            assert not problems, problems
    finally:
        stop_server(server)
