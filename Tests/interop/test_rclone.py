"""rclone with an `s3` remote, provider Other, default settings: copy a tree, check, copyto back."""
from conftest import client_env, run, tool


def rclone(server, home, *args):
    config = home / "rclone.conf"
    config.write_text(
        "[cv]\ntype = s3\nprovider = Other\n"
        f"access_key_id = {server.access_key}\nsecret_access_key = {server.secret_key}\n"
        f"endpoint = {server.endpoint}\nregion = us-east-1\n"
    )
    return run([tool("rclone"), "--config", str(config), *args], client_env(home))


def test_rclone_copy_check_copyto(server, home, files, tmp_path):
    root, content = files
    bucket = server.bucket("rclone")
    rclone(server, home, "mkdir", f"cv:{bucket}")
    rclone(server, home, "copy", str(root), f"cv:{bucket}/tree")
    check = rclone(server, home, "check", str(root), f"cv:{bucket}/tree")
    assert b"0 differences found" in check.stderr
    listed = rclone(server, home, "lsf", "-R", f"cv:{bucket}/tree").stdout.decode().split()
    for name in content:
        assert name in " ".join(listed) or name.split("/")[-1] in " ".join(listed)
    rclone(server, home, "copyto", f"cv:{bucket}/tree/nested/deeper/c d+e.dat", str(tmp_path / "back.dat"))
    assert (tmp_path / "back.dat").read_bytes() == content["nested/deeper/c d+e.dat"]
    for name, data in content.items():
        assert (server.data / bucket / "tree" / name).read_bytes() == data
    rclone(server, home, "purge", f"cv:{bucket}")
    assert not (server.data / bucket).exists()
