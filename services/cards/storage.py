"""The vendor's bucket, through the S3 API (boto3): any S3-compatible store by configuration.

Timeouts are short and retries few: a store that is away makes a write fail quickly, the
batch stays `writing` and the next timer run writes it again.
"""

import hashlib
from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.cards.settings import CardsSettings, cards_settings
from services.common.errors import Unavailable

StoreErrors = (BotoCoreError, ClientError)


class Bucket:
    def __init__(self, conf: CardsSettings | None = None) -> None:
        conf = conf or cards_settings()
        self.name = conf.cards_bucket
        self.client = boto3.client(
            "s3", endpoint_url=conf.s3_endpoint, aws_access_key_id=conf.s3_access_key,
            aws_secret_access_key=conf.s3_secret_key, region_name=conf.s3_region,
            # checksums only where S3 requires them: newer boto3 adds CRC headers by default,
            # which not every S3-compatible store implements (S3Proxy does not)
            config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2},
                          s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def ensure(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError:
            self.client.create_bucket(Bucket=self.name)

    def put(self, key: str, body: bytes) -> str:
        """Writes (or writes again: the same key, the same bytes) and returns the SHA-256."""
        digest = hashlib.sha256(body).hexdigest()
        self.client.put_object(Bucket=self.name, Key=key, Body=body,
                               Metadata={"sha256": digest})
        return digest

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)

    def keys(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name,
                                                                       Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.name, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise


def unavailable() -> Unavailable:
    return Unavailable("store_unavailable", "Хранилище файлов поставщика карт недоступно; "
                                                   "повторите позже")
