"""The chain's S3ChunkStore against real S3 services: `chainvault chain` with --endpoint-a/-b writing
and reading chains through `chainvault serve` and through a real SeaweedFS server, with one bucket on
each; tampering on the remote service is detected, mirrored chains repair themselves, and the index
can be rebuilt from the remote buckets alone."""
import os
import subprocess
import uuid

import seaweedfs  # scripts/, on the path through conftest: a boto3 client for any endpoint
from conftest import BIN


def chain_env(a, b):
    """Credentials for endpoint A and B from the environment, as the CLI expects them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAINVAULT_", "AWS_"))}
    env.update({
        "CHAINVAULT_A_ACCESS_KEY_ID": a.access_key, "CHAINVAULT_A_SECRET_ACCESS_KEY": a.secret_key,
        "CHAINVAULT_B_ACCESS_KEY_ID": b.access_key, "CHAINVAULT_B_SECRET_ACCESS_KEY": b.secret_key,
    })
    return env


class Remote:
    """Bucket A on one service and B on another (or the same), with the CLI flags to reach them."""

    def __init__(self, tmp_path, a, b, client_a, client_b):
        self.data = tmp_path / "local"
        self.env = chain_env(a, b)
        self.bucket_a, self.bucket_b = f"chain-a-{uuid.uuid4().hex[:10]}", f"chain-b-{uuid.uuid4().hex[:10]}"
        self.clients = {"A": (client_a, self.bucket_a), "B": (client_b, self.bucket_b)}
        self.flags = ["--data", str(self.data), "--endpoint-a", a.endpoint, "--endpoint-b", b.endpoint,
                      "--bucket-a", self.bucket_a, "--bucket-b", self.bucket_b]

    def run(self, *args, check=True):
        result = subprocess.run([BIN, "chain", args[0], *self.flags, *args[1:]], capture_output=True, text=True, env=self.env, timeout=300)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def get_object(self, bucket, key):
        client, name = self.clients[bucket]
        return client.get_object(Bucket=name, Key=key)["Body"].read()

    def put_object(self, bucket, key, body):
        client, name = self.clients[bucket]
        client.put_object(Bucket=name, Key=key, Body=body)

    def delete_object(self, bucket, key):
        client, name = self.clients[bucket]
        client.delete_object(Bucket=name, Key=key)

    def chunks(self, head):
        return [line.split("\t") for line in self.run("inspect", head).stdout.splitlines()[1:]]


def gateway_client(server):
    return seaweedfs.client(server.endpoint, server.access_key, server.secret_key)


def round_trip(remote, tmp_path, size=2 * 1024 * 1024 + 17):
    report = os.urandom(size)
    (tmp_path / "report.bin").write_bytes(report)
    head = remote.run("put", str(tmp_path / "report.bin")).stdout.strip()
    chunks = remote.chunks(head)
    assert len(chunks) == 3 and {c[1] for c in chunks} == {"A", "B"}
    for _, bucket, key, size_text, _ in chunks:
        stored = remote.get_object(bucket, key)
        assert len(stored) == int(size_text) and report[:64] not in stored
    remote.run("get", head, "-o", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == report
    assert "ok: 3 chunks" in remote.run("verify", "--no-key", head).stdout
    return head, chunks, report


def test_both_buckets_on_chainvault_serve(server, tmp_path):
    remote = Remote(tmp_path, server, server, gateway_client(server), gateway_client(server))
    head, chunks, _ = round_trip(remote, tmp_path)
    # The gateway stores them as plain files an operator can ls.
    for _, bucket, key, _, _ in chunks:
        assert (server.data / (remote.bucket_a if bucket == "A" else remote.bucket_b) / key).is_file()
    assert "1 of 1 chains ok" in remote.run("verify", "--all").stdout


def test_both_buckets_on_seaweedfs(seaweed, tmp_path):
    remote = Remote(tmp_path, seaweed, seaweed, seaweed.client(), seaweed.client())
    head, chunks, _ = round_trip(remote, tmp_path)
    _, bucket, key, _, _ = chunks[1]
    raw = bytearray(remote.get_object(bucket, key))
    raw[300] ^= 0x01
    remote.put_object(bucket, key, bytes(raw))
    failed = remote.run("verify", "--no-key", head, check=False)
    assert failed.returncode != 0 and "chunk 1" in failed.stderr and "does not hash to its pointer" in failed.stderr


def test_one_bucket_on_each_service(server, seaweed, tmp_path):
    remote = Remote(tmp_path, server, seaweed, gateway_client(server), seaweed.client())
    head, chunks, report = round_trip(remote, tmp_path)
    assert any(c[1] == "A" for c in chunks) and any(c[1] == "B" for c in chunks)

    # A chunk lost on SeaweedFS: verify and get fail, naming it, and get leaves nothing behind.
    _, bucket, key, _, _ = next(c for c in chunks if c[1] == "B")
    saved = remote.get_object("B", key)
    remote.delete_object("B", key)
    failed = remote.run("verify", "--no-key", head, check=False)
    assert failed.returncode != 0 and f"no object {key} in bucket B" in failed.stderr
    assert remote.run("get", head, "-o", str(tmp_path / "lost.bin"), check=False).returncode != 0
    assert not (tmp_path / "lost.bin").exists()
    remote.put_object("B", key, saved)

    # The index is rebuilt from the two remote buckets alone; a stray object shows up as an orphan.
    for record in (remote.data / ".chainvault" / "chains").iterdir():
        record.unlink()
    rebuilt = remote.run("rebuild-index").stdout
    assert f"indexed\t{head}\t3 chunks\t{len(report)} bytes" in rebuilt
    remote.put_object("A", "stray-object", b"not a chunk")
    orphans = remote.run("orphans").stdout.splitlines()
    assert orphans == ["A\tstray-object", "1 orphan objects"]


def test_mirrored_chain_repairs_a_lost_copy(server, seaweed, tmp_path):
    remote = Remote(tmp_path, server, seaweed, gateway_client(server), seaweed.client())
    report = os.urandom(1024 * 1024 + 3)
    (tmp_path / "report.bin").write_bytes(report)
    head = remote.run("put", "--mirror", str(tmp_path / "report.bin")).stdout.strip()
    chunks = remote.chunks(head)
    for _, _, key, _, _ in chunks:
        assert remote.get_object("A", key) == remote.get_object("B", key), "every chunk in both buckets"
    _, bucket, key, _, _ = chunks[0]
    remote.delete_object(bucket, key)
    got = remote.run("get", head, "-o", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == report
    assert f"repaired {bucket}:{key} from its mirror copy" in got.stderr
    assert remote.get_object(bucket, key) == remote.get_object("B" if bucket == "A" else "A", key)
