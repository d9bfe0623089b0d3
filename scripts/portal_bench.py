#!/usr/bin/env python3
"""Portal page latency (`make bench`): 16 signed-in patients (new accounts) load their overview
concurrently, 200 times each, against the release build on a fresh data root; prints p50, p90 and
p99 of each of three rounds and their medians. The client runs on the same machine (Python threads),
so the figures include its share of the two cores."""
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))
from conftest import BIN, start_server, stop_server  # noqa: E402

USERS, REQUESTS, ROUNDS = 16, 200, 3
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


def main():
    work = Path(tempfile.mkdtemp())
    server = start_server(work / "data", {"CHAINVAULT_ACCESS_KEY": "PORTALBENCHROOTKEY01", "CHAINVAULT_SECRET_KEY": "bench-" + uuid.uuid4().hex})
    base = server.portal.rstrip("/")
    try:
        subprocess.run([BIN, "hospital", "add-doctor", "--data", str(work / "data"), "--name", "Dr Bench", "--specialization", "Cardiology",
                        "bench@example.org"], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        patients = []
        for index in range(USERS):
            session = Session(base)
            session.post("/register", {"name": f"Patient {index}", "email": f"p{index}@example.org", "password": PASSWORD,
                                       "date_of_birth": "1980-01-01", "phone": "+44 20 7946 0000"})
            patients.append(session)
        for session in patients:
            assert "Your overview" in session.get("/dashboard")
        timings = []
        for round_ in range(ROUNDS):
            samples = []
            lock = threading.Lock()

            def load(session):
                own = []
                for _ in range(REQUESTS):
                    started = time.perf_counter()
                    session.get("/dashboard")
                    own.append((time.perf_counter() - started) * 1000)
                with lock:
                    samples.extend(own)

            threads = [threading.Thread(target=load, args=(session,)) for session in patients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            samples.sort()
            p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
            timings.append((p(0.5), p(0.9), p(0.99)))
            print(f"round {round_ + 1}: {len(samples)} loads, p50 {p(0.5):.1f} ms, p90 {p(0.9):.1f} ms, p99 {p(0.99):.1f} ms")
        print(f"portal overview, {USERS} users x {REQUESTS}: median of {ROUNDS} rounds p50 "
              f"{statistics.median(t[0] for t in timings):.1f} ms, p99 {statistics.median(t[2] for t in timings):.1f} ms")
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
