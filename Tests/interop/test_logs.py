"""Structured logs: with --log-format json every line is one JSON object; each request gives exactly one
access line carrying its x-amz-request-id, operation, bucket, key, status, S3 error code, bytes,
duration and access key id; no secret, signature, token or body ever appears."""
import json
import urllib.error
import urllib.request

import boto3
import botocore
import pytest

from conftest import start_server, stop_server
from test_hospital import call, register

SECRET = "logs-secret-0123456789-abcdef"


def test_one_json_access_line_per_request_with_its_request_id_and_no_secrets(tmp_path):
    log = tmp_path / "serve.log"
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "LOGSROOTKEY000000001", "CHAINVAULT_SECRET_KEY": SECRET},
                          args=("--log-format", "json"), stderr_path=log)
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key, aws_secret_access_key=SECRET,
                          region_name="us-east-1")
        s3.create_bucket(Bucket="logs")
        body = b"report body must never be logged"
        put = s3.put_object(Bucket="logs", Key="2026/report.pdf", Body=body)
        with pytest.raises(botocore.exceptions.ClientError) as missing:
            s3.get_object(Bucket="logs", Key="nothing")
        put_id = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        missing_id = missing.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        register(server, "Ada Patient", "ada-logs@example.org")
        assert call(server, "POST", "/api/sessions", {"email": "ada-logs@example.org", "password": "wrong password!"})[0] == 401
    finally:
        stop_server(server)

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all({"time", "level", "label", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["message"] == "access"]
    by_id = {line.get("request_id"): line for line in access if line.get("request_id")}
    assert [line["request_id"] for line in access if line.get("request_id") == put_id] == [put_id], "one line per request"
    put_line = by_id[put_id]
    assert put_line["operation"] == "PutObject" and put_line["bucket"] == "logs" and put_line["key"] == "2026/report.pdf"
    assert put_line["status"] == "200" and put_line["bytes_in"] == str(len(body)) and put_line["access_key"] == "LOGSROOTKEY000000001"
    assert float(put_line["duration_ms"]) >= 0 and "Boto3" in put_line["user_agent"]
    missing_line = by_id[missing_id]
    assert missing_line["status"] == "404" and missing_line["error_code"] == "NoSuchKey"
    hospital = [line for line in access if line["label"] == "chainvault.hospital"]
    assert {(line["method"], line["route"], line["status"]) for line in hospital} >= {("POST", "/api/patients", "202"), ("POST", "/api/sessions", "401")}
    text = log.read_text()
    for secret in (SECRET, "correct horse battery", "wrong password!", body.decode(), "Signature=", "Bearer "):
        assert secret not in text


def test_debug_level_logs_what_the_server_signed_when_a_signature_does_not_match(tmp_path):
    log = tmp_path / "serve.log"
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "LOGSROOTKEY000000002", "CHAINVAULT_SECRET_KEY": SECRET},
                          args=("--log-format", "json", "--log-level", "debug"), stderr_path=log)
    wrong_secret = "not-the-secret-0123456789"
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key, aws_secret_access_key=wrong_secret,
                          region_name="us-east-1")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.list_objects_v2(Bucket="signed-bucket")
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        # The client is told nothing of what the server computed.
        assert "canonical" not in str(refused.value.response).lower()

        # Signed over the body's hash without x-amz-content-sha256 (curl --aws-sigv4 style): the mismatch
        # is found only after the body, and logged the same way.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        good = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key, aws_secret_access_key=SECRET,
                            region_name="us-east-1")
        good.create_bucket(Bucket="signed-body")
        request = AWSRequest(method="PUT", url=server.endpoint + "/signed-body/key", data=b"the signed body")
        SigV4Auth(Credentials(server.access_key, SECRET), "s3", "us-east-1").add_auth(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-content-sha256"}
        sent = urllib.request.Request(server.endpoint + "/signed-body/key", method="PUT", data=b"another body!!!", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as body_refused:
            urllib.request.urlopen(sent, timeout=30)
        answer = body_refused.value.read().decode()
        assert body_refused.value.code == 403 and "<Code>SignatureDoesNotMatch</Code>" in answer and "canonical" not in answer.lower()
        assert "Contents" not in good.list_objects_v2(Bucket="signed-body"), "nothing stored"
    finally:
        stop_server(server)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    mismatch = [line for line in lines if line["message"] == "signature mismatch"]
    # Control characters in logged values are escaped in both formats (a value never starts a line).
    for line in mismatch:
        assert "\n" not in line["computed"]
        line["computed"] = line["computed"].replace("\\n", "\n")
    assert len(mismatch) == 2 and all(line["level"] == "debug" for line in mismatch), mismatch
    body_hash = __import__("hashlib").sha256(b"another body!!!").hexdigest()
    assert mismatch[1]["computed"].startswith("canonical request:\nPUT\n/signed-body/key") and mismatch[1]["computed"].split("\nstring to sign:")[0].endswith("\n" + body_hash), \
        mismatch[1]["computed"]
    computed = mismatch[0]["computed"]
    assert computed.startswith("canonical request:\nGET\n/signed-bucket") and "string to sign:\nAWS4-HMAC-SHA256\n" in computed
    assert mismatch[0]["request_id"] == refused.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert SECRET not in log.read_text() and wrong_secret not in log.read_text()
