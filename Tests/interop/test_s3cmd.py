"""s3cmd with a config naming only the endpoint and keys: mb / put / ls / get / del / rb."""
from conftest import client_env, run, tool


def s3cmd(server, home, *args, check=True):
    config = home / ".s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {server.access_key}\nsecret_key = {server.secret_key}\n"
        f"host_base = {server.hostport}\nhost_bucket = {server.hostport}\nuse_https = False\n"
    )
    return run([tool("s3cmd"), "-c", str(config), *args], client_env(home), check=check)


def test_s3cmd_lifecycle(server, home, files, tmp_path):
    root, content = files
    bucket = server.bucket("s3cmd")
    s3cmd(server, home, "mb", f"s3://{bucket}")
    s3cmd(server, home, "put", str(root / "nested/deeper/c d+e.dat"), f"s3://{bucket}/data/c d+e.dat")
    s3cmd(server, home, "put", str(root / "a.txt"), f"s3://{bucket}/a.txt")
    listing = s3cmd(server, home, "ls", "--recursive", f"s3://{bucket}").stdout.decode()
    assert f"s3://{bucket}/data/c d+e.dat" in listing and f"s3://{bucket}/a.txt" in listing
    s3cmd(server, home, "get", "--force", f"s3://{bucket}/data/c d+e.dat", str(tmp_path / "got.dat"))
    assert (tmp_path / "got.dat").read_bytes() == content["nested/deeper/c d+e.dat"]
    info = s3cmd(server, home, "info", f"s3://{bucket}/a.txt").stdout.decode()
    assert "MD5 sum" in info
    failed = s3cmd(server, home, "rb", f"s3://{bucket}", check=False)
    assert failed.returncode != 0 and b"BucketNotEmpty" in failed.stderr + failed.stdout
    s3cmd(server, home, "del", f"s3://{bucket}/data/c d+e.dat")
    s3cmd(server, home, "del", f"s3://{bucket}/a.txt")
    s3cmd(server, home, "rb", f"s3://{bucket}")
    assert not (server.data / bucket).exists()
