"""The library's files through the gateway: uploads streamed to the private bucket, downloads
streamed out of it, never whole in memory, and only after the library service has checked the
person (it hands out a presigned link made for that one request, which never leaves here).

Video seeking: a `Range` header is passed on to the store and its 206 with `Content-Range` back.
"""

import logging
from typing import IO, Any
from urllib.parse import quote

import requests
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.http import BadInput, ServiceUnavailable, call, error_response, limit_body
from gateway.settings import gateway_settings

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
MULTIPART_OVERHEAD = 64 * 1024
ADD_EDITION_TIMEOUT_S = 900  # a large document's text is read meanwhile
INLINE_TYPES = ("video/", "application/pdf")
# what the store's answer may tell the reader
PASSED_HEADERS = ("Content-Length", "Content-Range", "Last-Modified", "ETag")


class _Sized:
    """A readable stream with a known length: requests sends it with Content-Length (a presigned
    PUT takes no chunked body), a piece at a time."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream, self.size, self.sent = stream, size, 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = CHUNK) -> bytes:
        n = min(n if n and n > 0 else CHUNK, self.size - self.sent)
        if n <= 0:
            return b""
        piece = self.stream.read(n)
        self.sent += len(piece)
        return piece


def _ceiling() -> int:
    return gateway_settings().library_max_upload_mb * 1024 * 1024


def too_large() -> BadInput:
    return BadInput("file_too_large", f"Файл больше {gateway_settings().library_max_upload_mb}"
                    " МБ: такие библиотека не принимает", status=413)


def upload_edition(library: Any, request: Request, material_id: int,
                   fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new edition from a multipart form (`file` and the fields effective_on, supersedes_id,
    note) or from the raw body (the fields in the query)."""
    length = request.content_length
    if length is None:
        raise BadInput("length_required", "Укажите размер файла (Content-Length)", status=411)
    if length > _ceiling() + MULTIPART_OVERHEAD:
        raise too_large()
    # the library refuses a size over its limit for this kind before a byte is read
    slot = call(library, "upload_slot", material_id, max(1, length))
    limit_body(request, _ceiling() + MULTIPART_OVERHEAD)
    form = request.args
    try:
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            form = request.form
            if upload is None:
                raise BadInput("file_required", "Выберите файл")
            stream, filename = upload.stream, upload.filename or "file"
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(0)
        else:
            stream, filename, size = request.stream, form.get("filename", "file"), length
    except RequestEntityTooLarge:
        raise too_large() from None
    values = {k: form.get(k) for k in ("effective_on", "supersedes_id", "note")}
    values.update(fields or {})
    if size <= 0:
        raise BadInput("file_empty", "Файл пуст: выберите файл с содержимым", status=422)
    try:
        put = requests.put(slot["url"], data=_Sized(stream, size),
                           headers={"Content-Length": str(size)}, timeout=(5, 300))
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"library store: {exc}") from None
    if put.status_code >= 300:
        log.error("library store refused an upload: %s %s", put.status_code,
                  put.text[:200])
        raise ServiceUnavailable(f"library store: {put.status_code}")
    return call(library, "add_edition", material_id, slot["key"], filename,
                values.get("effective_on") or "", values.get("supersedes_id") or None,
                values.get("note") or "", timeout=ADD_EDITION_TIMEOUT_S)


def download(library: Any, request: Request, material_id: int,
             edition_id: int | None) -> Response:
    """The file, streamed from the store; a Range request gets its 206."""
    ranged = request.headers.get("Range", "")
    # a video's player asks for many ranges: only the first look is counted as a download
    first = not ranged or ranged.replace(" ", "").startswith("bytes=0-")
    info = call(library, "open_file", material_id, edition_id, first)
    headers = {"Range": ranged} if ranged else {}
    try:
        upstream = requests.get(info["url"], headers=headers, stream=True, timeout=(5, 60))
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"library store: {exc}") from None
    if upstream.status_code == 416:
        upstream.close()
        response = error_response(416, "range_not_satisfiable",
                                  "Запрошенный диапазон за пределами файла")
        response.headers["Content-Range"] = f"bytes */{info['size_bytes']}"
        return response
    if upstream.status_code not in (200, 206):
        upstream.close()
        log.error("library store answered %s for a presigned GET", upstream.status_code)
        raise ServiceUnavailable(f"library store: {upstream.status_code}")

    def body():
        try:
            yield from upstream.iter_content(CHUNK)
        finally:
            upstream.close()

    inline = info["media_type"].startswith(INLINE_TYPES)
    response = Response(body(), status=upstream.status_code, mimetype=info["media_type"],
                        direct_passthrough=True)
    for name in PASSED_HEADERS:
        if name in upstream.headers:
            response.headers[name] = upstream.headers[name]
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = (
        f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(info['filename'])}")
    response.call_on_close(upstream.close)
    return response
