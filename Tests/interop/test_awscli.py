"""The aws CLI with default settings: s3 mb / cp / ls / sync / rm / rb."""
import filecmp

from conftest import client_env, run, tool


def aws(server, home, *args, check=True):
    return run([tool("aws"), "--endpoint-url", server.endpoint, *args], client_env(home, server), check=check)


def test_aws_cli_round_trip_and_sync(server, home, files, tmp_path):
    root, content = files
    bucket = server.bucket("awscli")
    aws(server, home, "s3", "mb", f"s3://{bucket}")
    assert bucket in aws(server, home, "s3", "ls").stdout.decode()

    aws(server, home, "s3", "cp", str(root / "big.bin"), f"s3://{bucket}/single/big.bin")
    aws(server, home, "s3", "cp", f"s3://{bucket}/single/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "big.back").read_bytes() == content["big.bin"]

    first = aws(server, home, "s3", "sync", str(root), f"s3://{bucket}/tree").stdout.decode()
    assert first.count("upload:") == len(content)
    second = aws(server, home, "s3", "sync", str(root), f"s3://{bucket}/tree").stdout.decode()
    assert "upload:" not in second, f"second sync uploaded again: {second}"

    listing = aws(server, home, "s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout.decode()
    for name in content:
        assert f"tree/{name}" in listing

    back = tmp_path / "back"
    aws(server, home, "s3", "sync", f"s3://{bucket}/tree", str(back))
    for name, data in content.items():
        assert (back / name).read_bytes() == data, name
    assert not filecmp.dircmp(root, back).diff_files

    aws(server, home, "s3", "rm", f"s3://{bucket}/single/big.bin")
    for name in content:
        aws(server, home, "s3", "rm", f"s3://{bucket}/tree/{name}")
    aws(server, home, "s3", "rb", f"s3://{bucket}")
    assert bucket not in aws(server, home, "s3", "ls").stdout.decode()


def test_aws_cli_errors(server, home):
    missing = aws(server, home, "s3", "ls", f"s3://{server.bucket('nobucket')}", check=False)
    assert missing.returncode != 0 and b"NoSuchBucket" in missing.stderr
    bad = aws(server, home, "s3", "mb", "s3://Invalid_Bucket", check=False)
    assert bad.returncode != 0 and b"InvalidBucketName" in bad.stderr
