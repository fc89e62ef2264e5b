"""The library's settings, from the environment with local defaults (the object store
deploy/up.sh starts: S3Proxy on the local file system)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class LibrarySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    s3_endpoint: str = "http://127.0.0.1:9100"
    s3_access_key: str = ""
    s3_secret_key: str = ""  # no usable default: given by the deploy
    s3_region: str = "us-east-1"
    # the library's own bucket, private: files leave it only through the gateway
    library_bucket: str = "reestr-library"
    # a link to an object is made for one request and dies soon after: the gateway opens it
    # at once and never hands it on
    library_link_ttl_s: int = 60
    # an upload slot (the gateway's PUT of the file) lives this long
    library_upload_ttl_s: int = 900
    # size limits by kind of material, bytes
    library_max_document_mb: int = 200
    library_max_video_mb: int = 4096
    # text extraction runs in a child process with these limits: a hostile or huge file
    # costs at most this long and this much memory, and the service goes on
    library_extract_timeout_s: float = 180
    library_extract_memory_mb: int = 2048
    # characters of a file's text kept for search (PostgreSQL's tsvector holds at most 1 MB)
    library_text_chars: int = 400_000
    # what the viewer's organizations are (registry, membership) is remembered this long
    library_viewer_cache_s: float = 60


def library_settings() -> LibrarySettings:
    return LibrarySettings()
