"""/-/metrics on both listeners after a known sequence of requests: Prometheus text, behind the bearer
token when CHAINVAULT_METRICS_TOKEN is set, counters that match what was done."""
import re
import urllib.error
import urllib.request

import boto3
import botocore
import pytest

from conftest import start_server, stop_server
from test_hospital import call, register

TOKEN = "metrics-token-" + "0123456789abcdef"


def scrape(base, token=TOKEN):
    request = urllib.request.Request(base + "/-/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def value(text, name, **labels):
    """The sample `name{labels}`; labels must match exactly (in any order)."""
    for line in text.splitlines():
        match = re.match(r"^([a-z0-9_]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(3))
    return None


def test_counters_follow_a_known_sequence_and_the_token_guards_them(tmp_path):
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "METRICSROOTKEY000001", "CHAINVAULT_SECRET_KEY": "metrics-secret-0123456789",
                                              "CHAINVAULT_METRICS_TOKEN": TOKEN})
    try:
        for base in (server.endpoint, server.hospital):
            with pytest.raises(urllib.error.HTTPError) as refused:
                scrape(base, token=None)
            assert refused.value.code == 401
            with pytest.raises(urllib.error.HTTPError) as wrong:
                scrape(base, token=TOKEN[:-1] + "x")
            assert wrong.value.code == 401

        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key, region_name="us-east-1")
        s3.create_bucket(Bucket="metrics")
        for index in range(3):
            s3.put_object(Bucket="metrics", Key=f"k{index}", Body=b"x" * 1000)
        with pytest.raises(botocore.exceptions.ClientError):
            s3.get_object(Bucket="metrics", Key="missing")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.endpoint + "/metrics/k0", timeout=30)  # unsigned

        register(server, "Ada Patient", "ada-metrics@example.org")
        assert call(server, "POST", "/api/sessions", {"email": "ada-metrics@example.org", "password": "wrong password!"})[0] == 401
        assert call(server, "GET", "/api/slots/12345/nothing")[0] == 404

        text = scrape(server.endpoint)
        assert value(text, "chainvault_s3_requests_total", operation="PutObject", status=200) == 3
        assert value(text, "chainvault_s3_requests_total", operation="CreateBucket", status=200) == 1
        assert value(text, "chainvault_s3_requests_total", operation="GetObject", status=404) == 1
        assert value(text, "chainvault_s3_requests_total", operation="unauthenticated", status=403) == 1
        assert value(text, "chainvault_s3_errors_total", code="NoSuchKey") == 1
        assert value(text, "chainvault_s3_errors_total", code="AccessDenied") == 1
        assert value(text, "chainvault_s3_received_bytes_total") >= 3000
        assert value(text, "chainvault_s3_request_duration_seconds_count", operation="PutObject") == 3
        assert value(text, "chainvault_s3_requests_in_flight") == 0
        assert value(text, "chainvault_disk_free_bytes") > 0
        assert value(text, "chainvault_hospital_logins_total", outcome="success") == 1
        assert value(text, "chainvault_hospital_logins_total", outcome="failure") == 1
        # Route labels are the routes as declared (their parameters as {name}); no route matched: NotFound.
        hospital = scrape(server.hospital)
        assert value(hospital, "chainvault_hospital_requests_total", operation="POST /api/sessions", status=401) == 1
        assert value(hospital, "chainvault_hospital_requests_total", operation="GET NotFound", status=404) == 1
        assert "12345" not in hospital and "nothing" not in hospital
    finally:
        stop_server(server)


def test_bucket_gauges_and_abandoned_uploads_expire(tmp_path):
    """Housekeeping every second, uploads expire after 3 s: the gauges show each bucket's objects, bytes
    and open uploads, and an abandoned upload is aborted with its parts."""
    import time

    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "METRICSROOTKEY000002", "CHAINVAULT_SECRET_KEY": "metrics-secret-0123456789"},
                          args=("--housekeeping-interval", "1", "--multipart-expiry", "3"))
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key, region_name="us-east-1")
        s3.create_bucket(Bucket="gauged")
        s3.put_object(Bucket="gauged", Key="a", Body=b"x" * 1000)
        s3.put_object(Bucket="gauged", Key="dir/b", Body=b"y" * 24)
        upload = s3.create_multipart_upload(Bucket="gauged", Key="abandoned")["UploadId"]
        s3.upload_part(Bucket="gauged", Key="abandoned", UploadId=upload, PartNumber=1, Body=b"z" * 4096)
        parts = tmp_path / "data" / ".chainvault" / "uploads" / "gauged" / upload
        assert parts.is_dir()

        deadline = time.monotonic() + 30
        seen_open = False
        while time.monotonic() < deadline:
            text = scrape(server.endpoint, token=None)
            if value(text, "chainvault_multipart_uploads_open", bucket="gauged") == 1:
                seen_open = True
                assert value(text, "chainvault_bucket_objects", bucket="gauged") == 2
                assert value(text, "chainvault_bucket_bytes", bucket="gauged") == 1024
            if seen_open and value(text, "chainvault_multipart_uploads_open", bucket="gauged") == 0:
                break
            time.sleep(0.3)
        assert seen_open, "the open upload was counted"
        assert value(text, "chainvault_multipart_uploads_open", bucket="gauged") == 0, "then aborted"
        assert s3.list_multipart_uploads(Bucket="gauged").get("Uploads", []) == []
        assert not parts.exists(), "its parts are removed"
        with pytest.raises(botocore.exceptions.ClientError) as gone:
            s3.list_parts(Bucket="gauged", Key="abandoned", UploadId=upload)
        assert gone.value.response["Error"]["Code"] == "NoSuchUpload"
        assert value(text, "chainvault_bucket_objects", bucket="gauged") == 2, "objects are untouched"
    finally:
        stop_server(server)
