"""curl --aws-sigv4 (curl 7.88 sends no x-amz-content-sha256) against the gateway."""
import hashlib
import os

from conftest import client_env, run, tool


def curl(server, home, *args, check=True):
    cmd = [tool("curl"), "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{server.access_key}:{server.secret_key}", *args]
    return run(cmd, client_env(home), check=check)


def status_of(result):
    return int(result.stdout.decode().strip().splitlines()[-1])


def test_curl_bucket_and_object_lifecycle(server, home, tmp_path):
    bucket = server.bucket("curl")
    base = f"{server.endpoint}/{bucket}"
    assert status_of(curl(server, home, "-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}", base)) == 200

    upload = tmp_path / "upload.bin"
    upload.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    # -T signs the empty-payload hash and sends Expect: 100-continue, which the server answers at once.
    put = curl(server, home, "-v", "-T", str(upload), "-o", "/dev/null", "-w", "%{http_code}", f"{base}/dir/upload.bin")
    assert status_of(put) == 200
    verbose = put.stderr.decode()
    assert "> Expect: 100-continue" in verbose and "< HTTP/1.1 100 Continue" in verbose

    # --data-binary signs the body's real SHA-256 and sends a form content type: the bytes must not change.
    form = b"a=1&b=two+three%20&\x00\xff"
    (tmp_path / "form.bin").write_bytes(form)
    assert status_of(curl(server, home, "-X", "PUT", "--data-binary", f"@{tmp_path / 'form.bin'}", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/form.bin")) == 200

    got = curl(server, home, f"{base}/dir/upload.bin").stdout
    assert hashlib.sha256(got).digest() == hashlib.sha256(upload.read_bytes()).digest()
    assert curl(server, home, f"{base}/form.bin").stdout == form
    # The object is a plain file in the bucket directory.
    assert (server.data / bucket / "dir" / "upload.bin").read_bytes() == upload.read_bytes()

    head = curl(server, home, "-I", f"{base}/dir/upload.bin").stdout.decode()
    assert f"Content-Length: {3 * 1024 * 1024 + 17}" in head
    assert f'ETag: "{hashlib.md5(upload.read_bytes()).hexdigest()}"' in head

    listing = curl(server, home, f"{base}?list-type=2").stdout.decode()
    assert "<Key>dir/upload.bin</Key>" in listing and "<Key>form.bin</Key>" in listing

    ranged = curl(server, home, "-H", "Range: bytes=10-19", f"{base}/dir/upload.bin").stdout
    assert ranged == upload.read_bytes()[10:20]

    assert status_of(curl(server, home, "-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/dir/upload.bin")) == 204
    assert status_of(curl(server, home, "-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/form.bin")) == 204
    missing = curl(server, home, "-w", "%{http_code}", f"{base}/form.bin").stdout.decode()
    assert "<Code>NoSuchKey</Code>" in missing and missing.endswith("404")
    assert status_of(curl(server, home, "-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}", base)) == 204


def test_curl_wrong_secret_stores_nothing(server, home, tmp_path):
    bucket = server.bucket("curlbad")
    curl(server, home, "-X", "PUT", base := f"{server.endpoint}/{bucket}")
    (tmp_path / "f").write_bytes(b"payload")
    cmd = [tool("curl"), "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{server.access_key}:wrong-secret", "-T", str(tmp_path / "f"), f"{base}/f"]
    out = run(cmd, client_env(home)).stdout.decode()
    assert "<Code>SignatureDoesNotMatch</Code>" in out
    assert not (server.data / bucket / "f").exists()
    anonymous = run([tool("curl"), "-sS", f"{base}/f"], client_env(home)).stdout.decode()
    assert "<Code>AccessDenied</Code>" in anonymous


def test_curl_uploads_from_a_pipe_without_a_length(server, home, tmp_path):
    """`curl -T -` reads stdin and sends `Transfer-Encoding: chunked` with no Content-Length."""
    bucket = server.bucket("curlpipe")
    base = f"{server.endpoint}/{bucket}"
    curl(server, home, "-X", "PUT", base)
    payload = os.urandom(9 * 1024 * 1024 + 5)  # more than one free-space stride
    put = run(
        [tool("curl"), "-sS", "-v", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{server.access_key}:{server.secret_key}",
         "-T", "-", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/piped.bin"],
        client_env(home), input=payload)
    assert status_of(put) == 200, put.stderr.decode()[-2000:]
    verbose = put.stderr.decode()
    assert "Transfer-Encoding: chunked" in verbose and "Content-Length" not in verbose.split("< HTTP/1.1 200")[0].split("> PUT")[1]
    assert curl(server, home, f"{base}/piped.bin").stdout == payload
    assert (server.data / bucket / "piped.bin").read_bytes() == payload
    head = curl(server, home, "-I", f"{base}/piped.bin").stdout.decode()
    assert f'ETag: "{hashlib.md5(payload).hexdigest()}"' in head
