"""The object store's buckets copied and put back (issue 28), against the real S3 server."""

import uuid

import pytest

from reestr import ops


@pytest.fixture
def bucket():
    client = ops.s3_client()
    name = f"reestr-ops-test-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    yield client, name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


def test_a_deleted_object_comes_back_from_the_copy(bucket, tmp_path):
    client, name = bucket
    client.put_object(Bucket=name, Key="outbound/batch-1/cards.csv",
                      Body="номер;ФИО\n1;А\n".encode())
    client.put_object(Bucket=name, Key="inbound/batch-1/1-produced.csv", Body=b"1;produced\n")
    first = ops.backup_buckets(tmp_path, [name], client)
    assert first[name] == {"copied": 2, "unchanged": 0, "objects": 2}
    # only what changed is copied again
    client.put_object(Bucket=name, Key="inbound/batch-1/2-delivered.csv", Body=b"1;delivered\n")
    again = ops.backup_buckets(tmp_path, [name], client)
    assert again[name] == {"copied": 1, "unchanged": 2, "objects": 3}

    client.delete_object(Bucket=name, Key="outbound/batch-1/cards.csv")  # the mistake
    assert ops.restore_bucket(tmp_path, name, client=client) == 1
    body = client.get_object(Bucket=name, Key="outbound/batch-1/cards.csv")["Body"].read()
    assert body.decode() == "номер;ФИО\n1;А\n"
    assert ops.restore_bucket(tmp_path, name, client=client) == 0  # nothing missing now
    with pytest.raises(ops.BackupError, match="no copy of bucket"):
        ops.restore_bucket(tmp_path, "reestr-never-copied", client=client)
