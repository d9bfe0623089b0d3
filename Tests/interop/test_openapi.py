"""The hospital API against its own OpenAPI document: the document served is the one in docs/, it is
valid OpenAPI 3, and schemathesis (property-based, from the document) finds no 5xx and no response
that breaks the schema, for a patient, a doctor and an admin."""
import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from conftest import BIN, start_server, stop_server
from test_hospital import call, login, register

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    data = tmp_path_factory.mktemp("openapi")
    s = start_server(data, {"CHAINVAULT_ACCESS_KEY": "OPENAPIROOTKEY000001", "CHAINVAULT_SECRET_KEY": "openapi-secret-0123456789"})
    yield s
    stop_server(s)


def test_the_served_document_is_the_documented_one_and_valid(api):
    with urllib.request.urlopen(api.hospital + "/openapi.json", timeout=30) as response:
        assert response.headers["Content-Type"] == "application/json"
        served = response.read()
    assert served == DOCS.read_bytes()
    validate(json.loads(served))


def test_schemathesis_finds_no_server_error_and_no_schema_violation(api):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    subprocess.run([BIN, "hospital", "add-admin", "--data", str(api.data), "--name", "Root", "root@example.org"],
                   input="admin password 1\n", capture_output=True, text=True, env=env, timeout=120, check=True)
    admin, _ = login(api, "root@example.org", "admin password 1")
    status, _ = call(api, "POST", "/api/staff", {"role": "doctor", "name": "Carl Heart", "email": "carl@example.org",
                                                 "password": "stethoscope 42", "specialization": "Cardiology"}, token=admin)
    assert status == 201
    doctor, _ = login(api, "carl@example.org", "stethoscope 42")
    patient, _ = register(api, "Ada Patient", "ada@example.org")
    for role, token in [("patient", patient), ("doctor", doctor), ("admin", admin)]:
        run = subprocess.run(
            ["schemathesis", "run", api.hospital + "/openapi.json", "-H", f"Authorization: Bearer {token}",
             # Logging out would revoke the token the rest of the run uses.
             "--exclude-operation-id", "logout",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
             "--phases", "coverage,fuzzing", "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "25"),
             "--seed", "20261124", "--no-color"],
            # Its .schemathesis/ cache goes to the test's temp folder, not the checkout.
            capture_output=True, text=True, timeout=900, cwd=str(api.data.parent))
        assert run.returncode == 0, f"{role}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
