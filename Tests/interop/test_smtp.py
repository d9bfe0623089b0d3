"""One-time codes mailed through a real SMTP server (aiosmtpd): STARTTLS with the server's certificate
trusted through --smtp-ca-file and AUTH PLAIN; a server that refuses the recipient voids the request
(503 code_not_sent) and nothing lands in the outbox."""
import os
import re
import socket
import ssl
import subprocess

from email import message_from_string
from email import policy as mail_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import BIN, start_server, stop_server, tool
from test_hospital import SCHEDULING_AHEAD, call, completed_checkup, login, raw, register, rfc3339
import time


class Inbox:
    def __init__(self):
        self.messages = []
        # Addresses starting with "refused" are refused once this is set (after their owner signed up).
        self.refusing = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused") and self.refusing:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode(), session.authenticated,
                              session.ssl is not None))
        return "250 Message accepted"


def link_in(inbox):
    """Finds the path of the sign-up link mailed to an address in the test server's inbox."""
    def find(address):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for _, recipients, content, _, _ in reversed(inbox.messages):
                body = message_from_string(content, policy=mail_policy.default).get_content()
                found = re.search(r"(/register/activate\?token=[A-Za-z0-9_-]+)", body)
                if recipients == [address] and found:
                    return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no sign-up link to {address}")
    return find


def smtp_tls(tmp_path):
    """A self-signed certificate for `localhost` (the file the servers are told to trust) and the SMTP server's TLS context."""
    cert, key = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return cert, context


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mail(tmp_path):
    cert, context = smtp_tls(tmp_path)
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"mailer" and auth_data.password == b"smtp secret 1")

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True,
                            authenticator=authenticate, auth_required=True)
    controller.start()
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "SMTPTESTROOTKEY00001", "CHAINVAULT_SECRET_KEY": "smtp-secret-0123456789",
                                              "CHAINVAULT_SMTP_PASSWORD": "smtp secret 1", **SCHEDULING_AHEAD},
                          args=("--smtp-url", f"smtp://localhost:{controller.port}", "--smtp-from", "no-reply@hospital.example",
                                "--smtp-user", "mailer", "--smtp-ca-file", str(cert)))
    yield server, inbox
    stop_server(server)
    controller.stop()


def test_codes_go_out_over_starttls_with_auth_and_a_refused_recipient_voids_the_request(mail):
    server, inbox = mail
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    subprocess.run([BIN, "hospital", "add-admin", "--data", str(server.data), "--name", "Root", "root@example.org"],
                   input="admin password 1\n", capture_output=True, text=True, env=env, timeout=120, check=True)
    admin, _ = login(server, "root@example.org", "admin password 1")
    for email in ["carl@example.org", "dora@example.org", "eve@example.org"]:
        assert call(server, "POST", "/api/staff", {"role": "doctor", "name": email.split("@")[0].title(), "email": email,
                                                   "password": "stethoscope 42", "specialization": "Cardiology"}, token=admin)[0] == 201
    carl, _ = login(server, "carl@example.org", "stethoscope 42")
    dora, _ = login(server, "dora@example.org", "stethoscope 42")
    eve, _ = login(server, "eve@example.org", "stethoscope 42")
    reports = {}
    # Each patient's checkup with their own doctor (one doctor's slots may not overlap).
    for name, email, author in [("Ada Patient", "ada@example.org", carl), ("Rex Refused", "refused@example.org", eve)]:
        token, patient_id = register(server, name, email, link=link_in(inbox))
        completed_checkup(server, author, token)
        status, body = raw(server, "POST", f"/api/patients/{patient_id}/reports?title=Scan", author, b"scan bytes")
        assert status == 201
        reports[email] = int(re.search(rb'"id":(\d+)', body).group(1))

    inbox.refusing = True
    # Dora sees both patients (an appointment each): only so may she ask for their reports.
    for hours, email in enumerate(("ada@example.org", "refused@example.org"), start=2):
        token, _ = login(server, email, "correct horse battery")
        visit = call(server, "POST", "/api/slots", {"startsAt": rfc3339(hours * 3600), "durationMinutes": 15}, token=dora)[1]
        assert call(server, "POST", f"/api/slots/{visit['id']}/booking", token=token)[0] == 200
    status, request = call(server, "POST", f"/api/reports/{reports['ada@example.org']}/access-requests", token=dora)
    assert status == 201
    codes = [message for message in inbox.messages if "one-time code is" in message[2]]
    assert len(codes) == 1
    sender, recipients, content, authenticated, over_tls = codes[0]
    assert sender == "no-reply@hospital.example" and recipients == ["ada@example.org"] and authenticated and over_tls
    code = re.search(r"one-time code is (\d+)", content).group(1)
    # The doctor is named, the report never (issue 27, item 2).
    assert "Scan" not in content and "Dora" in content
    assert call(server, "POST", f"/api/access-requests/{request['id']}/redemption", {"code": code}, token=dora)[0] == 201
    assert not (server.data / ".chainvault" / "outbox").exists() or not list((server.data / ".chainvault" / "outbox").iterdir())

    status, error = call(server, "POST", f"/api/reports/{reports['refused@example.org']}/access-requests", token=dora)
    assert status == 503 and error["error"]["code"] == "code_not_sent"
    assert len([message for message in inbox.messages if "one-time code is" in message[2]]) == 1

    # The notices went the same way, from the queue (the refused recipient's wait there for a retry).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(
            "Subject: Your appointment with Dora is booked" in message[2] for message in inbox.messages):
        time.sleep(0.1)
    notices = [message for message in inbox.messages if message[1] == ["ada@example.org"] and "one-time code is" not in message[2]]
    subjects = {line for message in notices for line in message[2].splitlines() if line.startswith("Subject:")}
    assert {"Subject: Your appointment with Carl is booked", "Subject: Your appointment with Dora is booked",
            "Subject: A new report is in your record"} <= subjects, subjects
    assert all(message[3] and message[4] for message in notices), "authenticated, over TLS"
