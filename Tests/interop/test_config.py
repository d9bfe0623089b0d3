"""The configuration file (YAML, --config or CHAINVAULT_CONFIG): settings by option name, the command
line over the environment over the file, secrets from files, and start-up refused with a message
naming the setting for every kind of bad configuration. deploy/chainvault.yaml names every setting
and starts a server as it is. Trusted proxies: X-Forwarded-For names the client for throttling."""
import json
import os
import re
import subprocess
from pathlib import Path

import boto3

from conftest import BIN, start_server, stop_server
from test_hospital import call

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "chainvault.yaml"
CLEAN = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}


def refused(config_text, tmp_path, *args, env=None, mode=0o600):
    """Starts serve with the file (unless None) on busy-proof ports; returns the error it stopped with."""
    config = tmp_path / "bad.yaml"
    config.write_text(config_text or "")
    config.chmod(mode)
    flags = [] if config_text is None else ["--config", str(config)]
    result = subprocess.run([BIN, "serve", *flags, "--data", str(tmp_path / "d"), "--s3-port", "0", "--hospital-port", "0", *args],
                            capture_output=True, text=True, env={**CLEAN, **(env or {})}, timeout=20)
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_bad_configuration_stops_start_up_naming_the_setting(tmp_path):
    assert "unknown setting 's3-prot'" in refused("s3-prot: 9000\n", tmp_path)
    assert "s3-port in" in refused("s3-port: nine\n", tmp_path) and "'nine' is not a whole number" in refused("s3-port: nine\n", tmp_path)
    assert "--log-level 'loud' is not a log level" in refused("log-level: loud\n", tmp_path)
    assert "must be a single value" in refused("host: [a, b]\n", tmp_path)
    broken = refused("secret-key: [hunter2-secret-value\n", tmp_path)
    assert "not valid YAML" in broken and "line 2" in broken and "hunter2" not in broken, "where, not the secret"

    assert "chmod 600" in refused("secret-key: abcdefghijklmnop\naccess-key: ABCDEFGHIJ\n", tmp_path, mode=0o644)
    assert "CHAINVAULT_FREE_SPACE_RESERVE: 'lots' is not a whole number" in refused(None, tmp_path, env={"CHAINVAULT_FREE_SPACE_RESERVE": "lots"})
    assert "cannot read the configuration file" in refused(None, tmp_path, env={"CHAINVAULT_CONFIG": "/nonexistent.yaml"})
    assert "'not-an-ip' is not an IP address" in refused("trusted-proxies: 127.0.0.1, not-an-ip\n", tmp_path)


def test_the_file_the_environment_and_the_command_line_in_that_order(tmp_path):
    secret_file = tmp_path / "secret-key"
    secret_file.write_text("config-file-secret-0123456789\n")
    config = tmp_path / "chainvault.yaml"
    config.write_text(f"region: eu-west-3\nlog-format: text\naccess-key: CONFIGROOTKEY0000001\nsecret-key-file: {secret_file}\n"
                      "multipart-expiry: 7200\n")
    log = tmp_path / "log"
    # The environment beats the file (log format); the command line beats both (--region).
    server = start_server(tmp_path / "data", {"CHAINVAULT_LOG_FORMAT": "json"},
                          args=("--config", str(config), "--region", "ap-south-1"), stderr_path=log)
    try:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id="CONFIGROOTKEY0000001",
                          aws_secret_access_key="config-file-secret-0123456789", region_name="ap-south-1")
        s3.create_bucket(Bucket="configured")  # the key pair from the file, the secret from its file
        wrong_region = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id="CONFIGROOTKEY0000001",
                                    aws_secret_access_key="config-file-secret-0123456789", region_name="eu-west-3")
        try:
            wrong_region.list_buckets()
            raise AssertionError("the file's region should have lost to --region")
        except wrong_region.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] in ("AuthorizationHeaderMalformed", "SignatureDoesNotMatch")
    finally:
        stop_server(server)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line) for line in lines), "CHAINVAULT_LOG_FORMAT=json beat log-format: text"
    assert "config-file-secret" not in log.read_text()


def test_the_example_names_every_setting_and_starts(tmp_path):
    text = EXAMPLE.read_text()
    names = set(re.findall(r"^#?\s*([a-z0-9-]+):", text, re.M))
    # Every declared setting, as `chainvault settings` lists them (name, variable, value, origin).
    listing = subprocess.run([BIN, "settings"], capture_output=True, text=True, env=CLEAN, timeout=60, check=True).stdout
    known = {line.split("\t")[0] for line in listing.splitlines() if line}
    assert len(known) > 50 and "s3-port" in known
    assert known <= names, f"settings missing from deploy/chainvault.yaml: {known - names}"
    help_text = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, env=CLEAN, timeout=60).stdout
    for name in known:
        variable = "CHAINVAULT_" + name.upper().replace("-", "_")
        assert f"--{name}" in help_text or variable in help_text or name.startswith(("a-", "b-")), f"{name}: no option or variable"
    # As shipped (data and ports overridden on the command line, which wins).
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "EXAMPLEROOTKEY000001", "CHAINVAULT_SECRET_KEY": "example-secret-0123456789"},
                          args=("--config", str(EXAMPLE)))
    try:
        assert subprocess.run([BIN, "health", server.endpoint], capture_output=True, env=CLEAN, timeout=60).returncode == 0
    finally:
        stop_server(server)


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path):
    config = tmp_path / "proxy.yaml"
    config.write_text("trusted-proxies: 127.0.0.1, ::1\n")
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "PROXYROOTKEY00000001", "CHAINVAULT_SECRET_KEY": "proxy-secret-0123456789"},
                          args=("--config", str(config)))

    def login(n, forwarded):
        import urllib.error
        import urllib.request
        request = urllib.request.Request(server.hospital + "/api/sessions", method="POST",
                                         data=json.dumps({"email": f"nobody{n}@example.org", "password": "wrong password"}).encode(),
                                         headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded})
        try:
            urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            return error.code
        return 200

    try:
        assert [login(n, "203.0.113.7") for n in range(50)] == [401] * 50
        assert login(50, "203.0.113.7") == 429, "the forwarded client is throttled after 50 failures"
        assert login(51, "198.51.100.1, 203.0.113.8") == 401, "another client behind the same proxy is not"
        assert call(server, "GET", "/-/health/live")[0] == 200
    finally:
        stop_server(server)
