#!/usr/bin/env python3
"""Portal page latency (`make bench`): 16 signed-in patients (new accounts, each with a completed
checkup, its report and two appointments to come) load their overview concurrently for 20 s (wrk, one keep-alive connection and session cookie each) against the release
build on a fresh data root; prints p50, p90 and p99 of each of three rounds and their medians. The
client runs on the same machine and takes its share of the two cores."""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
from conftest import BIN, activation_path, start_server, stop_server  # noqa: E402

USERS, SECONDS, ROUNDS = 16, 20, 3
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


def give_history(base, data, index):
    """What a real overview shows: patient `index` has a checkup done today with a doctor of their own (one
    slot starting in the current minute, completed) and its report (64 KiB), and two appointments to come."""
    import datetime
    email = f"doctor{index}@example.org"
    subprocess.run([BIN, "hospital", "add-doctor", "--data", str(data), "--name", f"Dr Bench {index}", "--specialization", "Cardiology",
                    email], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
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


def main():
    work = Path(tempfile.mkdtemp())
    server = start_server(work / "data", {"CHAINVAULT_ACCESS_KEY": "PORTALBENCHROOTKEY01", "CHAINVAULT_SECRET_KEY": "bench-" + uuid.uuid4().hex})
    base = server.portal.rstrip("/")
    try:
        patients = []
        for index in range(USERS):
            session = Session(base)
            session.post("/register", {"name": f"Patient {index}", "email": f"p{index}@example.org", "password": PASSWORD,
                                       "date_of_birth": "1980-01-01", "phone": "+44 20 7946 0000"})
            link = activation_path(work / "data", f"p{index}@example.org")
            session.post("/register/activate", {"token": link.split("token=")[1], "password": PASSWORD})
            patients.append(session)
            give_history(base, work / "data", index)
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
        timings = []
        for round_ in range(ROUNDS):
            out = subprocess.run(["wrk", "-t", str(USERS), "-c", str(USERS), "-d", f"{SECONDS}s", "--timeout", "10s", "-s", str(script),
                                  base + "/dashboard"], capture_output=True, text=True, check=True, timeout=SECONDS + 60).stdout
            requests, errors, p50, p90, p99 = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out).groups()
            if int(errors):
                raise RuntimeError(f"{errors} loads of the overview did not answer 200:\n{out}")
            timings.append((float(p50), float(p90), float(p99)))
            print(f"round {round_ + 1}: {requests} loads in {SECONDS} s, p50 {float(p50):.1f} ms, p90 {float(p90):.1f} ms, p99 {float(p99):.1f} ms")
        print(f"portal overview, {USERS} users for {SECONDS} s: median of {ROUNDS} rounds p50 "
              f"{statistics.median(t[0] for t in timings):.1f} ms, p99 {statistics.median(t[2] for t in timings):.1f} ms")
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
