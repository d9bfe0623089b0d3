"""The hospital API that `chainvault serve` starts beside the gateway: registration, login, the first
admin created on the command line, staff created through the API, logout, and JSON errors."""
import json
import os
import subprocess
import urllib.error
import urllib.request

from conftest import BIN


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
    status, user = call(server, "POST", "/api/patients", {"name": "Ada Patient", "email": "ada-it@example.org",
                                                          "password": "correct horse battery", "dateOfBirth": "1985-04-12",
                                                          "phone": "+44 20 7946 0000"})
    assert status == 201 and user["role"] == "patient" and "passwordHash" not in user
    status, error = call(server, "POST", "/api/patients", {"name": "Ada", "email": "not-an-address"})
    assert status == 400 and error["error"]["code"] == "invalid_field"

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
