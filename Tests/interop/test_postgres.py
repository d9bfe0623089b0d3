"""Two `chainvault serve` instances, each with its own data root, on one PostgreSQL database, with the
report chains on SeaweedFS: one hospital. `make test` starts a throwaway PostgreSQL server
(scripts/with-postgres.sh) and names it in CHAINVAULT_TEST_DATABASE_URL; each test gets a database of
its own on it."""
import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import BIN, activation_path, start_server, stop_server
from test_hospital import call, login

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


@pytest.fixture
def pair(seaweed, tmp_path):
    """Instances A and B: B reads A's key files (keyring, code key, audit signing key, checkpoint file)."""
    url = fresh_database()
    shared = chain_settings(seaweed, url)
    a = start_server(tmp_path / "a", shared, stderr_path=tmp_path / "a.log")
    keys = tmp_path / "a" / ".chainvault"
    b = start_server(tmp_path / "b", {
        **shared,
        "CHAINVAULT_MASTER_KEY_FILE": str(keys / "keyring.json"), "CHAINVAULT_CODE_KEY": str(keys / "code.key"),
        "CHAINVAULT_AUDIT_SIGNING_KEY": str(keys / "audit-signing.key"),
        "CHAINVAULT_AUDIT_CHECKPOINT_FILE": str(keys / "audit-checkpoints"),
    }, stderr_path=tmp_path / "b.log")
    a.settings = shared
    yield a, b, url
    stop_server(b)
    stop_server(a)


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
