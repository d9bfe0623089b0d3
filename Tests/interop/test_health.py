"""Health endpoints on both listeners: no credentials needed, live always 200 while serving, ready 503
naming the failed check when the data root cannot take a write (chattr +i: immutable even for root)
or free space is below the reserve; `chainvault health` exits 0/1 accordingly."""
import json
import os
import subprocess
import urllib.error
import urllib.request

from conftest import BIN, start_server, stop_server


TOKEN = "health-metrics-token-0123456789"


def get(url, token=TOKEN):
    """GET with the metrics token (which lets ready name its checks) unless token is None."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def health(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINVAULT_")}
    env["CHAINVAULT_METRICS_TOKEN"] = TOKEN
    return subprocess.run([BIN, "health", url], capture_output=True, text=True, env=env, timeout=60)


def test_both_listeners_answer_health_without_credentials_and_turn_not_ready(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, {"CHAINVAULT_ACCESS_KEY": "HEALTHROOTKEY0000001", "CHAINVAULT_SECRET_KEY": "health-secret-0123456789",
                                 "CHAINVAULT_METRICS_TOKEN": TOKEN})
    tmp = data / ".chainvault" / "tmp"
    try:
        # Both check the data root and the chains; only the hospital's listener checks its database.
        shared = {"data root writable", "free space", "chain bucket A", "chain bucket B"}
        for base, own in ((server.endpoint, set()), (server.hospital, {"hospital database"})):
            assert get(base + "/-/health/live") == (200, {"status": "ok", "checks": []})
            status, body = get(base + "/-/health/ready")
            assert status == 200 and body["status"] == "ok", body
            assert {c["name"] for c in body["checks"]} == shared | own
            # Without the token: ready or not, nothing of the data root's path or the bucket names.
            assert get(base + "/-/health/ready", token=None) == (200, {"status": "ok", "checks": []})
            assert health(base).returncode == 0
        # A bad bearer token does not stand in the way.
        request = urllib.request.Request(server.hospital + "/-/health/live", headers={"Authorization": "Bearer nonsense"})
        assert urllib.request.urlopen(request, timeout=30).status == 200

        subprocess.run(["chattr", "+i", str(tmp)], check=True)
        try:
            for base in (server.endpoint, server.hospital):
                status, body = get(base + "/-/health/ready")
                assert status == 503 and body["status"] == "unavailable"
                failed = [c["name"] for c in body["checks"] if not c["ok"]]
                assert failed == ["data root writable"], body
                assert get(base + "/-/health/live")[0] == 200
                checked = health(base)
                assert checked.returncode == 1 and "503" in checked.stdout
        finally:
            subprocess.run(["chattr", "-i", str(tmp)], check=True)
        assert get(server.endpoint + "/-/health/ready")[0] == 200
    finally:
        stop_server(server)
    assert health(server.endpoint).returncode == 1, "nothing listening: not ready"


def test_ready_is_503_below_the_free_space_reserve(tmp_path):
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "HEALTHROOTKEY0000002", "CHAINVAULT_SECRET_KEY": "health-secret-0123456789",
                                              "CHAINVAULT_METRICS_TOKEN": TOKEN},
                          args=("--free-space-reserve", str(1 << 62)))
    try:
        status, body = get(server.endpoint + "/-/health/ready")
        assert status == 503 and [c["name"] for c in body["checks"] if not c["ok"]] == ["free space"]
        # The refusal says what to do on a small disk (issue 27, item 8).
        assert "lower --free-space-reserve" in next(c["detail"] for c in body["checks"] if not c["ok"])
    finally:
        stop_server(server)


def test_metrics_need_the_token_beyond_loopback(tmp_path):
    """Listening on every interface without a metrics token: /-/metrics is refused; ready tells only ready."""
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": "HEALTHROOTKEY0000003", "CHAINVAULT_SECRET_KEY": "health-secret-0123456789"},
                          args=("--host", "0.0.0.0"))
    try:
        port = server.endpoint.rsplit(":", 1)[1]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/metrics", timeout=30)
            raise AssertionError("metrics must need a token beyond loopback")
        except urllib.error.HTTPError as error:
            assert error.code == 403
        assert get(f"http://127.0.0.1:{port}/-/health/ready", token=None) == (200, {"status": "ok", "checks": []})
    finally:
        stop_server(server)
