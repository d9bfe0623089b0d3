#!/usr/bin/env python3
"""CPU profile of one gateway row of `make bench`: starts a release `chainvault serve` on a fresh data
root, loads it with wrk for 10 s and samples it with `perf record -g` meanwhile; prints the requests/s
and perf's top symbols (self time) and top callers (children). The profiles in BENCHMARKS.md come
from here.

    python3 scripts/profile.py get4|put4|get64|list [--no-perf]

`--no-perf` only measures (perf's sampling costs a few percent). Needs wrk and perf
(`scripts/install-deps.sh bench`).
"""
import os
import re
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import seaweedfs

BIN = os.environ.get("CHAINVAULT_BIN", str(Path(__file__).resolve().parents[1] / ".build/release/chainvault"))
ACCESS, SECRET = "PROFILEKEY0000000001", "profile-" + uuid.uuid4().hex
ROWS = {"get4": (4096, 16), "put4": (4096, 16), "get64": (64 << 20, 4), "list": (100, 16)}


def start(work):
    env = {**os.environ, "CHAINVAULT_ACCESS_KEY": ACCESS, "CHAINVAULT_SECRET_KEY": SECRET, "CHAINVAULT_LOG_LEVEL": "warning"}
    process = subprocess.Popen([BIN, "serve", "--data", str(work / "cv"), "--s3-port", "0", "--hospital-port", "0"],
                               stdout=subprocess.PIPE, text=True, env=env)
    for line in process.stdout:
        if line.startswith("s3 endpoint: "):
            return process, line.split(": ", 1)[1].strip()
    raise RuntimeError("chainvault did not start")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "get4"
    size, connections = ROWS[what]
    work = Path(tempfile.mkdtemp(prefix="cv-profile-"))
    server, endpoint = start(work)
    try:
        s3 = seaweedfs.client(endpoint, ACCESS, SECRET)
        s3.create_bucket(Bucket="profile")
        body = work / "body"
        body.write_bytes(os.urandom(size))
        s3.upload_file(str(body), "profile", "object")
        presign = lambda op, **params: s3.generate_presigned_url(op, Params={"Bucket": "profile", **params}, ExpiresIn=3600)
        lua = 'wrk.method = "GET"\n'
        url = presign("get_object", Key="object")
        if what == "list":
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda n: s3.put_object(Bucket="profile", Key=f"list/{n:04d}", Body=b"x" * 100), range(1000)))
            url = presign("list_objects_v2", Prefix="list/", MaxKeys=1000)
        elif what == "put4":
            # As in bench.py: 512 keys in turn, so that writers do not wait for each other's key lock.
            base = endpoint.rstrip("/")
            paths = [presign("put_object", Key=f"put/{n:04d}")[len(base):] for n in range(512)]
            url = base + paths[0]
            lua = f'wrk.method = "PUT"\nlocal f = io.open("{body}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
            lua += "local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\nlocal i = 0\n"
            lua += "request = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n"
        script = work / "load.lua"
        script.write_text(lua)
        data = work / "perf.data"
        perf = None
        if "--no-perf" not in sys.argv:
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(server.pid), "-o", str(data), "--", "sleep", "10"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", "10s", "--latency", "-s", str(script), url],
                             capture_output=True, text=True, timeout=120).stdout
        rate = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
        print(f"{what}: {rate} requests/s at {connections} connections")
        if perf:
            perf.wait()
            for mode in (["--no-children", "--sort", "dso"], ["--no-children", "--sort", "sym"], ["--children", "--sort", "sym"]):
                report = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "-g", "none", "--percent-limit", "2", *mode],
                                        capture_output=True, text=True).stdout
                print("\n".join([line[:160] for line in report.splitlines() if line and not line.startswith("#")][:25]) + "\n")
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
