"""Backups of the PostgreSQL cluster with point-in-time recovery, by pgBackRest.

`deploy/up.sh` makes the repository (`BACKUP_REPO`, `/var/lib/pgbackrest/reestr` locally), the
stanza and the
continuous WAL archiving (`archive_command` → `pgbackrest archive-push`); `reestr ops backup`
takes a full, differential or incremental backup (a schedule runs it: README «Operations»);
`reestr ops restore --to TIME` restores the cluster as it stood at that moment into a fresh data
directory and starts it on a port of its own, so the one running is never overwritten by
mistake. Only a moment between the end of the first backup and the last archived WAL can be
restored: any other is refused with the range that can.

Every call runs pgBackRest as the cluster's owner (postgres) with the checkout's configuration
file (`PGBACKREST_CONFIG`, written by up.sh).
"""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")
    pgbackrest_config: str = ""
    pgbackrest_stanza: str = "reestr"
    pg_version: str = "15"
    pg_owner: str = "postgres"


class BackupError(Exception):
    """Said to the operator as it is (pgBackRest's own message included)."""


@dataclass(frozen=True)
class Restorable:
    earliest: datetime  # the end of the first backup kept
    latest: datetime  # the last WAL archived


def _as_owner(conf: OpsSettings, argv: list[str]) -> list[str]:
    if os.geteuid() == 0 and conf.pg_owner:
        return ["runuser", "-u", conf.pg_owner, "--", *argv]
    return argv


def pgbackrest(*args: str, conf: OpsSettings | None = None, timeout: float = 3600) -> str:
    conf = conf or OpsSettings()
    if not conf.pgbackrest_config or not Path(conf.pgbackrest_config).exists():
        raise BackupError("backups are not set up: PGBACKREST_CONFIG names no file "
                          "(deploy/up.sh writes it)")
    argv = ["pgbackrest", f"--config={conf.pgbackrest_config}",
            f"--stanza={conf.pgbackrest_stanza}", *args]
    done = subprocess.run(_as_owner(conf, argv), capture_output=True, text=True, cwd="/",
                          timeout=timeout)
    if done.returncode != 0:
        raise BackupError(f"pgbackrest {args[-1]} failed ({done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def backup(kind: str = "full", conf: OpsSettings | None = None) -> dict:
    """A backup of the whole cluster (every service's database and Keycloak's); the newest
    one's description."""
    if kind not in ("full", "diff", "incr"):
        raise BackupError(f"unknown backup type {kind!r}: full, diff or incr")
    started = time.monotonic()
    pgbackrest(f"--type={kind}", "backup", conf=conf)
    newest = info(conf)["backup"][-1]
    return {"label": newest["label"], "type": newest["type"],
            "seconds": round(time.monotonic() - started, 1),
            "size_bytes": newest["info"]["size"],
            "repo_bytes": newest["info"]["repository"]["delta"]}


def info(conf: OpsSettings | None = None) -> dict:
    stanzas = json.loads(pgbackrest("--output=json", "info", conf=conf))
    if not stanzas:
        raise BackupError("the backup repository has no stanza (deploy/up.sh makes it)")
    return stanzas[0]


def restorable(conf: OpsSettings | None = None, archived_until: datetime | None = None
               ) -> Restorable:
    """The moments that can be restored. The last archived WAL's time is the server's
    (`pg_stat_archiver.last_archived_time`, given by the caller that can ask it)."""
    stanza = info(conf)
    backups = stanza.get("backup") or []
    if not backups:
        raise BackupError("no backup yet: run `reestr ops backup` first")
    earliest = datetime.fromtimestamp(backups[0]["timestamp"]["stop"], UTC)
    latest = archived_until or datetime.fromtimestamp(backups[-1]["timestamp"]["stop"], UTC)
    return Restorable(earliest=earliest, latest=max(latest, earliest))


def check_target(target: datetime, span: Restorable) -> None:
    if not span.earliest <= target <= span.latest:
        raise BackupError(
            f"{target:%Y-%m-%d %H:%M:%S %Z} cannot be restored: the backups and the WAL "
            f"archive cover {span.earliest:%Y-%m-%d %H:%M:%S} to "
            f"{span.latest:%Y-%m-%d %H:%M:%S} UTC")


def restore(target: datetime, into: Path, port: int, span: Restorable,
            conf: OpsSettings | None = None) -> dict:
    """The cluster as it stood at `target`, restored into the empty directory `into` and
    started on `port` (loopback only). Always the whole cluster: pgBackRest's `--db-include`
    leaves the other databases as zeroed files, and WAL written to them meanwhile made the
    recovery stop («WAL contains references to invalid pages»). Returns how long each step
    took."""
    conf = conf or OpsSettings()
    check_target(target, span)
    if into.exists() and any(into.iterdir()):
        raise BackupError(f"{into} is not empty: a restore goes into a fresh directory")
    into.mkdir(parents=True, exist_ok=True)
    shutil.chown(into, conf.pg_owner, conf.pg_owner)
    into.chmod(0o700)
    started = time.monotonic()
    moment = target.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00"
    pgbackrest(f"--pg1-path={into}", "--type=time", f"--target={moment}",
               "--target-action=promote", "restore", conf=conf)
    restored = time.monotonic()
    _own_config(into, port, conf)
    bindir = f"/usr/lib/postgresql/{conf.pg_version}/bin"
    done = subprocess.run(_as_owner(conf, [
        f"{bindir}/pg_ctl", "-D", str(into), "-l", str(into / "restore.log"), "-w", "-t", "600",
        # on the command line, over the restored postgresql.auto.conf (ALTER SYSTEM's): the
        # restored cluster must never push its WAL into the running cluster's archive
        "-o", f"-c archive_mode=off -c port={port}", "start"]),
        capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        log_text = (into / "restore.log").read_text() if (into / "restore.log").exists() else ""
        raise BackupError(f"the restored cluster did not start: {done.stderr.strip()} "
                          f"{log_text[-1500:]}")
    return {"restore_s": round(restored - started, 1),
            "recovery_s": round(time.monotonic() - restored, 1), "port": port,
            "data_dir": str(into)}


def _own_config(into: Path, port: int, conf: OpsSettings) -> None:
    """Debian keeps a cluster's configuration outside its data directory: the restored one gets
    its own, listening on loopback at `port`, archiving nothing (it must not write into the
    running cluster's archive)."""
    (into / "postgresql.conf").write_text(
        f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{into}'\n"
        "archive_mode = off\nmax_connections = 50\nshared_buffers = 256MB\n")
    (into / "pg_hba.conf").write_text(
        "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n")
    (into / "pg_ident.conf").write_text("")
    for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
        shutil.chown(into / name, conf.pg_owner, conf.pg_owner)


def stop_restored(into: Path, conf: OpsSettings | None = None) -> None:
    conf = conf or OpsSettings()
    bindir = f"/usr/lib/postgresql/{conf.pg_version}/bin"
    subprocess.run(_as_owner(conf, [f"{bindir}/pg_ctl", "-D", str(into), "-m", "fast", "-w",
                                    "stop"]), capture_output=True, cwd="/")


def archived_until(database_url: str) -> datetime | None:
    """When the running cluster last archived a WAL segment (None: never)."""
    from sqlalchemy import text

    from services.common.db import make_engine

    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as c:
            return c.execute(text("SELECT last_archived_time FROM pg_stat_archiver")).scalar()
    finally:
        engine.dispose()


def archive_lag_s(database_url: str) -> float:
    """Seconds since the last WAL segment was archived, while the server writes: how much a
    loss of the server (and its disk) would lose at most."""
    last = archived_until(database_url)
    return float("inf") if last is None else (datetime.now(UTC) - last).total_seconds()


def parse_moment(value: str) -> datetime:
    """"2026-12-01 18:30" (the machine's time zone) or with an offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BackupError(f"«{value}» is not a moment: write it as 2026-12-01 18:30") from None
    return moment.astimezone() if moment.tzinfo is None else moment


# ---- the object store's buckets ---------------------------------------------------------------
# Card batches, the vendor's responses and library files are objects, not rows: they are copied
# into a directory (then carried off the machine with the database's repository), object by
# object, only those new or changed since the last copy (by size and ETag). An object deleted in
# the store stays in the copy: a backup keeps what a mistake removed.

MANIFEST = ".manifest.json"


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["S3_SECRET_KEY"],
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"))


def _seen(obj: dict) -> list:
    """What tells an object changed: its size and ETag (or, where the store lists none, as
    S3Proxy's file system does, its time of change)."""
    return [obj["Size"], obj.get("ETag") or str(obj.get("LastModified"))]


def backup_buckets(dest: Path, buckets: list[str] | None = None, client=None) -> dict:
    """Every bucket (or those named) copied into `dest/<bucket>/`; counts per bucket."""
    client = client or s3_client()
    names = buckets or [b["Name"] for b in client.list_buckets().get("Buckets", [])]
    done = {}
    for name in names:
        root = dest / name
        root.mkdir(parents=True, exist_ok=True)
        manifest_path = root / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        copied = kept = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                key, seen = obj["Key"], _seen(obj)
                if key.endswith("/"):  # a folder marker some stores list (S3Proxy's files)
                    continue
                target = root / key
                if manifest.get(key) == seen and target.exists():
                    kept += 1
                    continue
                if not target.resolve().is_relative_to(root.resolve()):
                    raise BackupError(f"object key {key!r} leaves the copy's directory")
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(name, key, str(target))
                manifest[key] = seen
                copied += 1
        manifest_path.write_text(json.dumps(manifest))
        done[name] = {"copied": copied, "unchanged": kept, "objects": len(manifest)}
    return done


def restore_bucket(src: Path, bucket: str, into: str | None = None, client=None) -> int:
    """The objects of a bucket's copy put back (into `into`, another bucket, if given) where
    missing or different; how many were put."""
    client = client or s3_client()
    root = src / bucket
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise BackupError(f"no copy of bucket {bucket} in {src}")
    target = into or bucket
    try:
        client.head_bucket(Bucket=target)
    except Exception:
        client.create_bucket(Bucket=target)
    present = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=target):
        present.update({o["Key"]: _seen(o) for o in page.get("Contents", [])})
    put = 0
    for key, seen in json.loads(manifest_path.read_text()).items():
        if present.get(key) != seen:
            client.upload_file(str(root / key), target, key)
            put += 1
    return put
