"""The data tools people point at S3, with their default settings: pyarrow datasets (folder markers,
partitions), obstore's create-only and update-if-unchanged writes, boto3 conditional writes and
folder markers listed by boto3 and the aws CLI, and restic backups."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore
import pytest

from conftest import client_env, run, tool


def test_pyarrow_partitioned_dataset_round_trips(server, s3):
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    bucket = server.bucket("arrow")
    s3.create_bucket(Bucket=bucket)
    fs = pafs.S3FileSystem(
        access_key=server.access_key, secret_key=server.secret_key, region="us-east-1",
        endpoint_override=server.hostport, scheme="http")
    table = pa.table({"year": [2025, 2025, 2026, 2026], "ward": ["a", "b", "a", "b"], "visits": [1, 2, 3, 4]})
    pq.write_to_dataset(table, root_path=f"{bucket}/visits", partition_cols=["year", "ward"], filesystem=fs)
    back = pq.read_table(f"{bucket}/visits", filesystem=fs).to_pydict()
    rows = sorted(zip(back["visits"], [int(y) for y in back["year"]], [str(w) for w in back["ward"]]))
    assert rows == [(1, 2025, "a"), (2, 2025, "b"), (3, 2026, "a"), (4, 2026, "b")]

    fs.create_dir(f"{bucket}/empty/deeper")
    info = fs.get_file_info(f"{bucket}/empty")
    assert info.type == pafs.FileType.Directory
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert "empty/deeper/" in keys or "empty/" in keys
    fs.delete_dir(f"{bucket}/visits")
    fs.delete_dir(f"{bucket}/empty")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_obstore_create_only_and_update_if_unchanged(server, s3):
    import obstore
    from obstore.store import S3Store

    bucket = server.bucket("obstore")
    s3.create_bucket(Bucket=bucket)
    store = S3Store(
        bucket, endpoint=server.endpoint, access_key_id=server.access_key, secret_access_key=server.secret_key,
        region="us-east-1", client_options={"allow_http": True})
    first = obstore.put(store, "_delta_log/00000.json", b"first", mode="create")
    with pytest.raises(obstore.exceptions.AlreadyExistsError):
        obstore.put(store, "_delta_log/00000.json", b"second", mode="create")
    assert bytes(obstore.get(store, "_delta_log/00000.json").bytes()) == b"first"
    updated = obstore.put(store, "_delta_log/00000.json", b"update", mode={"e_tag": first["e_tag"]})
    with pytest.raises(obstore.exceptions.PreconditionError):
        obstore.put(store, "_delta_log/00000.json", b"stale", mode={"e_tag": first["e_tag"]})
    assert bytes(obstore.get(store, "_delta_log/00000.json").bytes()) == b"update"
    assert updated["e_tag"] != first["e_tag"]


def test_boto3_create_only_writes_race_with_one_winner(server, s3):
    bucket = server.bucket("cond")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="lock", Body=b"mine", IfNoneMatch="*")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="lock", Body=b"theirs", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412

    def attempt(i, key):
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=f"writer {i}".encode(), IfNoneMatch="*")
            return "won"
        except botocore.exceptions.ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(16) as pool:
        for round in range(10):
            outcomes = list(pool.map(lambda i: attempt(i, f"race/{round}"), range(16)))
            assert outcomes.count("won") == 1, outcomes
            assert set(outcomes) <= {"won", "PreconditionFailed", "ConditionalRequestConflict"}


def test_folder_markers_list_as_aws_does(server, s3, home):
    bucket = server.bucket("marker")
    s3.create_bucket(Bucket=bucket)
    # What the AWS console's "Create folder" and then an upload into it make.
    for key in ["scans/", "scans/2026/", "scans/2026/ct.dcm", "scans/readme.txt", "scans.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"" if key.endswith("/") else key.encode())
    every = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert every == ["scans.txt", "scans/", "scans/2026/", "scans/2026/ct.dcm", "scans/readme.txt"]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["scans.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["scans/"]
    inside = s3.list_objects_v2(Bucket=bucket, Prefix="scans/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["scans/", "scans/readme.txt"]
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["scans/2026/"]
    assert s3.get_object(Bucket=bucket, Key="scans/")["ContentLength"] == 0

    env = client_env(home, server)
    listed = json.loads(run([tool("aws"), "--endpoint-url", server.endpoint, "s3api", "list-objects-v2", "--bucket", bucket,
                             "--prefix", "scans/", "--delimiter", "/"], env).stdout)
    assert [o["Key"] for o in listed["Contents"]] == ["scans/", "scans/readme.txt"]
    recursive = run([tool("aws"), "--endpoint-url", server.endpoint, "s3", "ls", "--recursive", f"s3://{bucket}/"], env).stdout.decode()
    assert [line.split()[-1] for line in recursive.splitlines()] == every
    # The folder marker is not a plain file: the bucket folder holds only what `ls` should show.
    assert sorted(p.name for p in (server.data / bucket).iterdir()) == ["scans", "scans.txt"]


def test_restic_init_backup_check_restore(server, s3, home, tmp_path):
    bucket = server.bucket("restic")
    s3.create_bucket(Bucket=bucket)
    source = tmp_path / "source"
    (source / "ward").mkdir(parents=True)
    (source / "ward" / "notes.txt").write_text("notes\n")
    (source / "scan.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    env = {**client_env(home, server), "RESTIC_PASSWORD": "correct horse battery",
           "RESTIC_REPOSITORY": f"s3:{server.endpoint}/{bucket}/repo"}
    run([tool("restic"), "init"], env)
    run([tool("restic"), "backup", str(source)], env)
    run([tool("restic"), "check", "--read-data"], env)
    target = tmp_path / "restored"
    run([tool("restic"), "restore", "latest", "--target", str(target)], env)
    restored = target / str(source).lstrip("/")
    assert (restored / "ward" / "notes.txt").read_text() == "notes\n"
    assert (restored / "scan.bin").read_bytes() == (source / "scan.bin").read_bytes()


def test_object_versions_and_the_cleanup_tools_run_before_deleting_a_bucket(server, s3, home):
    bucket = server.bucket("versions")
    s3.create_bucket(Bucket=bucket)
    for key in ["a.txt", "dir/", "dir/b.txt", "x//y"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = json.loads(run([tool("aws"), "--endpoint-url", server.endpoint, "s3api", "list-object-versions", "--bucket", bucket],
                            client_env(home, server)).stdout)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        ("a.txt", "null", True), ("dir/", "null", True), ("dir/b.txt", "null", True), ("x//y", "null", True)]
    # Every key kind copies and completes a multipart upload.
    s3.copy_object(Bucket=bucket, Key="copies/dir/", CopySource={"Bucket": bucket, "Key": "dir/"})
    assert s3.get_object(Bucket=bucket, Key="copies/dir/")["Body"].read() == b"dir/"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="../up")
    part = s3.upload_part(Bucket=bucket, Key="../up", UploadId=upload["UploadId"], PartNumber=1, Body=b"multi")
    s3.complete_multipart_upload(Bucket=bucket, Key="../up", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="../up")["Body"].read() == b"multi"
    assert not (server.data / "up").exists()
    # boto3's resource cleanup deletes every version, then the bucket.
    resource = boto3.resource("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                              aws_secret_access_key=server.secret_key, region_name="us-east-1")
    resource.Bucket(bucket).object_versions.delete()
    resource.Bucket(bucket).delete()
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        s3.head_bucket(Bucket=bucket)
    assert gone.value.response["Error"]["Code"] == "404"
