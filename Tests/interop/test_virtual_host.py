"""Virtual-host addressing (bucket.DOMAIN) with --domain, next to path style, with curl --aws-sigv4."""
import uuid

from conftest import client_env, run, start_server, stop_server, tool


def test_virtual_host_and_path_style(tmp_path, home):
    key, secret = "VHOSTKEY000000000001", "vhost-" + uuid.uuid4().hex
    server = start_server(tmp_path / "data", {"CHAINVAULT_ACCESS_KEY": key, "CHAINVAULT_SECRET_KEY": secret}, args=("--domain", "s3.test"))
    try:
        port = server.hostport.split(":")[1]
        bucket = "vhost-bucket"

        def curl(*args):
            return run(
                [tool("curl"), "-sS", "--resolve", f"{bucket}.s3.test:{port}:127.0.0.1", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{key}:{secret}", *args],
                client_env(home),
            ).stdout

        curl("-X", "PUT", f"{server.endpoint}/{bucket}")
        (tmp_path / "f").write_bytes(b"virtual host body")
        curl("-T", str(tmp_path / "f"), f"http://{bucket}.s3.test:{port}/dir/f.txt")
        assert curl(f"http://{bucket}.s3.test:{port}/dir/f.txt") == b"virtual host body"
        assert curl(f"{server.endpoint}/{bucket}/dir/f.txt") == b"virtual host body"
        assert b"<Key>dir/f.txt</Key>" in curl(f"http://{bucket}.s3.test:{port}/?list-type=2")
        assert (server.data / bucket / "dir" / "f.txt").read_bytes() == b"virtual host body"
    finally:
        stop_server(server)
