#!/usr/bin/env python3
"""Portal page latency (`make bench`): 16 signed-in patients (new accounts, each with a completed
checkup, its report and two appointments to come) load their overview concurrently for 20 s (wrk, one
keep-alive connection and session cookie each) against the release build; prints p50, p90 and p99 of
each of three rounds, their medians, and the CPU each process spent per request. The client runs on
the same machine and takes its share of the two cores.

  portal_bench.py [sqlite|postgres|two]...   (default: all three, in this order)

sqlite: one instance on the embedded database (a fresh data root). postgres: one instance on a
PostgreSQL server of the script's own, report chains on SeaweedFS. two: two instances on that
PostgreSQL behind nginx (round robin)."""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
from conftest import BIN, activation_path, start_server, stop_server  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import seaweedfs  # noqa: E402

USERS, SECONDS, ROUNDS = int(os.environ.get("BENCH_USERS", 16)), int(os.environ.get("BENCH_SECONDS", 20)), 3
# BENCH_STATEMENTS=1: the statements PostgreSQL ran per load of the overview (pg_stat_statements), to see where it goes.
STATEMENTS = os.environ.get("BENCH_STATEMENTS") is not None
PASSWORD = "correct horse battery"


class Session:
    """A browser without a browser: cookies and the page's form token."""

    def __init__(self, base):
        self.base = base
        self.jar = urllib.request.HTTPCookieProcessor()
        self.opener = urllib.request.build_opener(self.jar)

    def get(self, path):
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path, fields):
        page = self.get("/login") if "form_token" not in fields else ""
        token = re.search(r'name="form_token" value="([^"]+)"', page or self.get("/dashboard"))
        data = urllib.parse.urlencode({"form_token": token.group(1), **fields}).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Origin": self.base})
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()


def api(base, method, path, token=None, body=None, raw=None, headers=None):
    """One JSON API call; returns the decoded answer."""
    import json
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def give_history(base, data, index, env):
    """What a real overview shows: patient `index` has a checkup done today with a doctor of their own (one
    slot starting in the current minute, completed) and its report (64 KiB), and two appointments to come."""
    import datetime
    email = f"doctor{index}@example.org"
    subprocess.run([BIN, "hospital", "add-doctor", "--data", str(data), "--name", f"Dr Bench {index}", "--specialization", "Cardiology",
                    email], input=PASSWORD + "\n", text=True, check=True, capture_output=True, env={**os.environ, **env})
    doctor = api(base, "POST", "/api/sessions", body={"email": email, "password": PASSWORD})["token"]
    patient = api(base, "POST", "/api/sessions", body={"email": f"p{index}@example.org", "password": PASSWORD})
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    for day in (0, 1, 2):
        start = (now + datetime.timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")
        slot = api(base, "POST", "/api/slots", doctor, {"startsAt": start, "durationMinutes": 30})
        api(base, "POST", f"/api/slots/{slot['id']}/booking", patient["token"], {"reason": "Palpitations"})
        if day == 0:
            api(base, "POST", f"/api/slots/{slot['id']}/completion", doctor)
    api(base, "POST", f"/api/patients/{patient['user']['id']}/reports?title=Bench%20report", doctor, raw=os.urandom(64 * 1024),
        headers={"Content-Type": "application/pdf"})


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A PostgreSQL server of the benchmark's own (Debian's postgresql; run as `postgres` when root), durable
    as a real one (fsync on)."""

    def __init__(self):
        self.bindir = next(path for path in [subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip(),
                                             *sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)]
                           if path and Path(path, "pg_ctl").exists())
        self.folder = Path(tempfile.mkdtemp(prefix="chainvault-bench-pg-"))
        os.chmod(self.folder, 0o755)
        self.owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if self.owner:
            subprocess.run(["chown", "postgres:", str(self.folder)], check=True)
        subprocess.run([*self.owner, f"{self.bindir}/initdb", "-D", str(self.folder / "data"), "-U", "chainvault", "--auth=trust"],
                       check=True, capture_output=True)
        port = free_port()
        subprocess.run([*self.owner, f"{self.bindir}/pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
                        "-o", f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
                        + (" -c shared_preload_libraries=pg_stat_statements" if STATEMENTS else ""), "start"],
                       check=True, capture_output=True)
        self.url = f"postgres://chainvault@127.0.0.1:{port}/postgres"

    def database(self):
        name = "bench_" + uuid.uuid4().hex[:8]
        subprocess.run(["psql", self.url, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self):
        subprocess.run([*self.owner, f"{self.bindir}/pg_ctl", "-D", str(self.folder / "data"), "stop", "-m", "fast"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def nginx(work, port, upstreams):
    """nginx on `port` in front of the hospital listeners (round robin, keep-alive to the upstreams); its process."""
    temp = "".join(f"{kind}_temp_path {work}/nginx-{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    servers = "".join(f"server {upstream};" for upstream in upstreams)
    conf = work / "nginx.conf"
    conf.write_text(f"""worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; {temp} client_max_body_size 0; client_body_buffer_size 1m; proxy_request_buffering off; upstream hospital {{ {servers} keepalive 32; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://hospital; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }} }} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def cpu_seconds(pids):
    """User and system CPU time of these processes, by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError):
            seconds[pid] = 0.0
    return seconds


def postgres_pids():
    return [int(pid) for pid in subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()]


def run(mode, work, shared):
    """One mode's rounds: the servers started, 16 patients given a history, the overview loaded."""
    key = {"CHAINVAULT_ACCESS_KEY": "PORTALBENCHROOTKEY01", "CHAINVAULT_SECRET_KEY": "bench-" + uuid.uuid4().hex}
    servers, env, proxy = [], {}, None
    if mode == "sqlite":
        servers.append(start_server(work / "a", key))
    else:
        url = shared["postgres"].database()
        weed = shared["seaweed"]
        suffix = uuid.uuid4().hex[:8]
        env = {"CHAINVAULT_DATABASE_URL": url, "CHAINVAULT_ENDPOINT_A": weed[0], "CHAINVAULT_ENDPOINT_B": weed[0],
               "CHAINVAULT_BUCKET_A": f"bench-a-{suffix}", "CHAINVAULT_BUCKET_B": f"bench-b-{suffix}",
               "CHAINVAULT_A_ACCESS_KEY_ID": weed[1], "CHAINVAULT_A_SECRET_ACCESS_KEY": weed[2],
               "CHAINVAULT_B_ACCESS_KEY_ID": weed[1], "CHAINVAULT_B_SECRET_ACCESS_KEY": weed[2]}
        if mode == "two":
            # The portal's address is the balancer's: its forms check the Origin they are posted from.
            front = free_port()
            env["CHAINVAULT_PORTAL_URL"] = f"http://127.0.0.1:{front}"
        servers.append(start_server(work / "a", {**key, **env}, stderr_path=work / "a.log"))
        keys = work / "a" / ".chainvault"
        env.update({"CHAINVAULT_MASTER_KEY_FILE": str(keys / "keyring.json"), "CHAINVAULT_CODE_KEY": str(keys / "code.key"),
                    "CHAINVAULT_AUDIT_SIGNING_KEY": str(keys / "audit-signing.key")})
        if mode == "two":
            servers.append(start_server(work / "b", {**key, **env}, stderr_path=work / "b.log"))
            proxy = nginx(work, front, [server.hospital.split("//")[1] for server in servers])
    base = servers[0].portal.rstrip("/") if proxy is None else env["CHAINVAULT_PORTAL_URL"]
    try:
        patients = []
        for index in range(USERS):
            session = Session(base)
            session.post("/register", {"name": f"Patient {index}", "email": f"p{index}@example.org", "password": PASSWORD,
                                       "date_of_birth": "1980-01-01", "phone": "+44 20 7946 0000"})
            link = None
            for _attempt in range(150):
                for server in servers:
                    try:
                        link = activation_path(server.data, f"p{index}@example.org")
                        break
                    except (AssertionError, FileNotFoundError, IndexError):
                        pass
                if link:
                    break
            session.post("/register/activate", {"token": link.split("token=")[1], "password": PASSWORD})
            patients.append(session)
            give_history(base, servers[0].data, index, env)
        for session in patients:
            page = session.get("/dashboard")
            assert "Your overview" in page and "Bench report" in page, "each overview lists appointments and a report"
        # wrk (C, keep-alive, one connection per thread) so that the client's own cost stays small: each
        # connection carries one patient's session cookie.
        cookies = []
        for session in patients:
            jar = {cookie.name: cookie.value for cookie in session.jar.cookiejar}
            cookies.append("; ".join(f"{name}={value}" for name, value in jar.items()))
        script = work / "dashboard.lua"
        script.write_text(
            "local cookies = {" + ", ".join(f'"{cookie}"' for cookie in cookies) + "}\n"
            "local next = 1\n"
            "function setup(thread) thread:set('cookie', cookies[next]); next = next + 1 end\n"
            "function init(args) request = function() return wrk.format('GET', '/dashboard', {Cookie = cookie}) end end\n"
            "function done(summary, latency, requests)\n"
            "  io.write(string.format('RESULT %d %d %.3f %.3f %.3f\\n', summary.requests, summary.errors.status,\n"
            "    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))\n"
            "end\n")
        processes = {f"chainvault {name}": [server.process.pid] for name, server in zip("ab", servers)}
        if mode != "sqlite":
            processes["postgres"] = postgres_pids()
        if proxy is not None:
            processes["nginx"] = [proxy.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(proxy.pid)], capture_output=True,
                                                                                 text=True).stdout.split()]
        if STATEMENTS and mode != "sqlite":
            subprocess.run(["psql", url, "-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "-c", "SELECT pg_stat_statements_reset()"],
                           check=True, capture_output=True)
        timings = []
        for round_ in range(ROUNDS):
            before = {name: cpu_seconds(pids) for name, pids in processes.items()}
            out = subprocess.run(["wrk", "-t", str(USERS), "-c", str(USERS), "-d", f"{SECONDS}s", "--timeout", "10s", "-s", str(script),
                                  base + "/dashboard"], capture_output=True, text=True, check=True, timeout=SECONDS + 60).stdout
            after = {name: cpu_seconds(pids) for name, pids in processes.items()}
            requests, errors, p50, p90, p99 = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out).groups()
            if int(errors):
                raise RuntimeError(f"{errors} loads of the overview did not answer 200:\n{out}")
            cpu = {name: sum(after[name].values()) - sum(before[name].values()) for name in processes}
            timings.append((float(p50), float(p90), float(p99), int(requests) / SECONDS, cpu, int(requests)))
            per_request = ", ".join(f"{name} {1000 * seconds / int(requests):.2f} ms" for name, seconds in cpu.items())
            print(f"{mode} round {round_ + 1}: {requests} loads in {SECONDS} s, p50 {float(p50):.1f} ms, p90 {float(p90):.1f} ms, "
                  f"p99 {float(p99):.1f} ms; CPU per load: {per_request}")
        if STATEMENTS and mode != "sqlite":
            loads = sum(t[5] for t in timings)
            print(subprocess.run(["psql", url, "-c", f"SELECT round(calls::numeric / {loads}, 2) AS per_load, round(mean_exec_time::numeric, 3) AS ms, "
                                  "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS statement FROM pg_stat_statements "
                                  "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC LIMIT 25"],
                                 capture_output=True, text=True).stdout)
        median = statistics.median
        cpu = {name: median(1000 * t[4][name] / t[5] for t in timings) for name in processes}
        print(f"portal overview [{mode}], {USERS} users for {SECONDS} s: median of {ROUNDS} rounds p50 {median(t[0] for t in timings):.1f} ms, "
              f"p99 {median(t[2] for t in timings):.1f} ms, {median(t[3] for t in timings):.0f} loads/s; CPU per load "
              + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cpu.items()))
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for server in servers:
            stop_server(server)


def main():
    modes = sys.argv[1:] or ["sqlite", "postgres", "two"]
    shared = {}
    work = Path(tempfile.mkdtemp())
    try:
        if any(mode != "sqlite" for mode in modes):
            shared["postgres"] = Postgres()
            access, secret = "PORTALBENCHWEEDKEY01", "weed-" + uuid.uuid4().hex
            process, endpoint = seaweedfs.start_seaweedfs(work / "seaweedfs", access, secret)
            shared["weed_process"] = process
            shared["seaweed"] = (endpoint, access, secret)
        for mode in modes:
            folder = work / mode
            folder.mkdir()
            run(mode, folder, shared)
    finally:
        if "weed_process" in shared:
            seaweedfs.stop(shared["weed_process"])
        if "postgres" in shared:
            shared["postgres"].stop()
        if os.environ.get("BENCH_KEEP") is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
