"""`chainvault chain` and `chainvault keys` on a data root: put, inspect, verify with and without the
key, get, rotation, and tampering detected by the command with a non-zero exit and a clear message."""
import os
import subprocess

from conftest import BIN


def chainvault(*args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    result = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_chain_round_trip_rotation_and_tampering(tmp_path):
    data = tmp_path / "data"
    report = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / "report.pdf").write_bytes(report)
    head = chainvault("chain", "put", "--data", str(data), str(tmp_path / "report.pdf")).stdout.strip()
    assert head[:2] in ("A:", "B:") and len(head) == 66

    lines = chainvault("chain", "inspect", "--data", str(data), head).stdout.splitlines()
    assert lines[0].endswith("4 chunks")
    chunks = [line.split("\t") for line in lines[1:]]
    assert [c[0] for c in chunks] == ["0", "1", "2", "3"] and chunks[-1][4] == "end"
    assert {c[1] for c in chunks} == {"A", "B"}, "a chain uses both buckets"
    for index, bucket, key, size, _ in chunks:
        path = data / ("reports-a" if bucket == "A" else "reports-b") / key
        assert path.stat().st_size == int(size)
        assert report[:64] not in path.read_bytes(), "chunks are encrypted"

    assert "ok: 4 chunks" in chainvault("chain", "verify", "--data", str(data), "--no-key", head).stdout
    chainvault("chain", "get", "--data", str(data), head, "-o", str(tmp_path / "back.pdf"))
    assert (tmp_path / "back.pdf").read_bytes() == report

    before = {p: p.read_bytes() for p in (data / "reports-a").iterdir()} | {p: p.read_bytes() for p in (data / "reports-b").iterdir()}
    rotated = chainvault("keys", "rotate", "--data", str(data)).stdout
    assert "active master key" in rotated and "re-wrapped 1 data keys" in rotated
    assert len(chainvault("keys", "list", "--data", str(data)).stdout.splitlines()) == 2
    after = {p: p.read_bytes() for p in before}
    assert before == after, "rotation rewrites no chunk"
    chainvault("chain", "get", "--data", str(data), head, "-o", str(tmp_path / "again.pdf"))
    assert (tmp_path / "again.pdf").read_bytes() == report
    streamed = subprocess.run([BIN, "chain", "get", "--data", str(data), head, "-o", "-"], capture_output=True, timeout=300,
                              env={k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")})
    assert streamed.returncode == 0 and streamed.stdout == report

    # One flipped byte in the third chunk: both verifications fail, naming the chunk; get leaves no file.
    _, bucket, key, _, _ = chunks[2]
    target = data / ("reports-a" if bucket == "A" else "reports-b") / key
    raw = bytearray(target.read_bytes())
    raw[500] ^= 0x01
    target.write_bytes(bytes(raw))
    for args in (["--no-key"], []):
        failed = chainvault("chain", "verify", "--data", str(data), *args, head, check=False)
        assert failed.returncode != 0 and "chunk 2" in failed.stderr and "does not hash to its pointer" in failed.stderr
    failed = chainvault("chain", "get", "--data", str(data), head, "-o", str(tmp_path / "bad.pdf"), check=False)
    assert failed.returncode != 0 and not (tmp_path / "bad.pdf").exists()
    # An existing file is replaced only by a whole, checked report: a failed get leaves it as it was, and no temp file.
    failed = chainvault("chain", "get", "--data", str(data), head, "-o", str(tmp_path / "again.pdf"), check=False)
    assert failed.returncode != 0 and (tmp_path / "again.pdf").read_bytes() == report
    assert not [p for p in tmp_path.iterdir() if ".chainvault-" in p.name]
    bad_head = chainvault("chain", "inspect", "--data", str(data), "C:00", check=False)
    assert bad_head.returncode != 0 and "head pointer" in bad_head.stderr


def test_index_verify_all_orphans_rebuild_and_rotation(tmp_path):
    data = tmp_path / "data"
    heads = []
    for size in (10, 2 * 1024 * 1024 + 1, 0):
        (tmp_path / f"r{size}").write_bytes(os.urandom(size))
        heads.append(chainvault("chain", "put", "--data", str(data), str(tmp_path / f"r{size}")).stdout.strip())
    chains = data / ".chainvault" / "chains"
    assert sorted(p.name for p in chains.iterdir()) == sorted(h[2:] + ".json" for h in heads)
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in chains.iterdir())

    for args in ([], ["--no-key"]):
        out = chainvault("chain", "verify", "--data", str(data), "--all", *args).stdout
        assert "3 of 3 chains ok" in out
    assert chainvault("chain", "orphans", "--data", str(data)).stdout.splitlines() == ["0 orphan objects"]

    # Rotation re-wraps the three data keys in the index; the chunk files stay byte for byte.
    files = {p: p.read_bytes() for bucket in ("reports-a", "reports-b") for p in (data / bucket).iterdir()}
    out = chainvault("keys", "rotate", "--data", str(data)).stdout
    assert "re-wrapped 3 data keys" in out
    assert {p: p.read_bytes() for p in files} == files
    assert "re-wrapped 0 data keys" in chainvault("keys", "rewrap", "--data", str(data)).stdout
    chainvault("chain", "get", "--data", str(data), heads[1], "-o", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == (tmp_path / f"r{2 * 1024 * 1024 + 1}").read_bytes()

    # Forget one chain: its chunks become orphans until the index is rebuilt from the buckets.
    (chains / (heads[1][2:] + ".json")).unlink()
    orphans = chainvault("chain", "orphans", "--data", str(data)).stdout.splitlines()
    assert orphans[-1] == "3 orphan objects"
    out = chainvault("chain", "rebuild-index", "--data", str(data)).stdout
    assert "3 chains indexed, 1 new, 0 failed" in out
    assert chainvault("chain", "orphans", "--data", str(data)).stdout.splitlines() == ["0 orphan objects"]

    # One chunk of one chain damaged: verify --all names it and exits non-zero.
    chunk = chainvault("chain", "inspect", "--data", str(data), heads[1]).stdout.splitlines()[2].split("\t")
    target = data / ("reports-a" if chunk[1] == "A" else "reports-b") / chunk[2]
    target.write_bytes(b"rot")
    failed = chainvault("chain", "verify", "--data", str(data), "--all", "--no-key", check=False)
    assert failed.returncode != 0 and f"FAILED\t{heads[1]}" in failed.stdout and "2 of 3 chains ok" in failed.stdout


def test_put_from_standard_input(tmp_path):
    """`chain put -` reads a pipe of unknown length to its end (a pipe hands out 64 KiB a read), spools it
    encrypted and leaves no temp file; an empty pipe is an empty, one-chunk report."""
    data = tmp_path / "data"
    report = os.urandom(2 * 1024 * 1024 + 70_001)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    producer = subprocess.Popen(["cat", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    put = subprocess.Popen([BIN, "chain", "put", "--data", str(data), "-"], stdin=producer.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    producer.stdout.close()
    producer.stdin.write(report)
    producer.stdin.close()
    out, err = put.communicate(timeout=120)
    assert put.returncode == 0, err
    head = out.decode().strip()
    assert "3 chunks" in chainvault("chain", "inspect", "--data", str(data), head).stdout.splitlines()[0]
    chainvault("chain", "get", "--data", str(data), head, "-o", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == report
    assert list((data / ".chainvault" / "tmp").iterdir()) == [], "the spool file is gone"

    empty = subprocess.run([BIN, "chain", "put", "--data", str(data), "-"], input=b"", capture_output=True, env=env, timeout=60)
    assert empty.returncode == 0, empty.stderr
    chainvault("chain", "get", "--data", str(data), empty.stdout.decode().strip(), "-o", str(tmp_path / "empty"))
    assert (tmp_path / "empty").read_bytes() == b""
