"""The library's private bucket, through the S3 API (boto3).

Nobody outside the platform gets an address in it: the service makes a presigned link for one
object and one request (a GET to read, a PUT to take an upload), short-lived, and hands it to the
gateway alone, which opens it at once and streams the bytes through. The bucket has no public
policy; an object's bare URL answers 403.
"""

import logging
import shutil
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.common.errors import Unavailable
from services.library.settings import LibrarySettings, library_settings

log = logging.getLogger(__name__)
StoreErrors = (BotoCoreError, ClientError)
CHUNK = 1024 * 1024


class Bucket:
    def __init__(self, conf: LibrarySettings | None = None) -> None:
        conf = conf or library_settings()
        self.conf = conf
        self.name = conf.library_bucket
        self.client = boto3.client(
            "s3", endpoint_url=conf.s3_endpoint, aws_access_key_id=conf.s3_access_key,
            aws_secret_access_key=conf.s3_secret_key, region_name=conf.s3_region,
            # checksums only where S3 requires them (S3Proxy implements no CRC headers)
            config=Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 2},
                          s3={"addressing_style": "path"}, signature_version="s3v4",
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def ensure(self) -> None:
        """The bucket, made if missing, and private (any public policy or ACL taken off)."""
        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError:
            self.client.create_bucket(Bucket=self.name, ACL="private")

    def link_get(self, key: str, ttl_s: int | None = None) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.name, "Key": key},
            ExpiresIn=ttl_s or self.conf.library_link_ttl_s)

    def link_put(self, key: str, ttl_s: int | None = None) -> str:
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.name, "Key": key},
            ExpiresIn=ttl_s or self.conf.library_upload_ttl_s)

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.name, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def head_bytes(self, key: str, n: int = 8192) -> bytes:
        """The first `n` bytes (a file's type shows there)."""
        return self.client.get_object(Bucket=self.name, Key=key,
                                      Range=f"bytes=0-{n - 1}")["Body"].read()

    def download(self, key: str, out: IO[bytes]) -> None:
        """The object into `out`, a megabyte at a time (never whole in memory)."""
        body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        try:
            shutil.copyfileobj(body, out, CHUNK)
        finally:
            body.close()

    def put(self, key: str, body: bytes | IO[bytes], content_type: str = "") -> None:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.name, Key=key, Body=body, **extra)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.name, Key=key)
        except StoreErrors as exc:  # left behind: a sweep of unreferenced keys may take it
            log.warning("library object %s not deleted: %s", key, exc)


def unavailable() -> Unavailable:
    return Unavailable("store_unavailable", "Хранилище файлов библиотеки недоступно; "
                                            "повторите позже")
