"""Files sent to the gateway: a multipart form field or the raw request body."""

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from gateway.http import BadInput, limit_body

MAX_UPLOAD = 100 * 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # the form's boundaries and headers around the file


def too_large() -> BadInput:
    return BadInput("file_too_large", "Файл больше 100 МБ: разделите его на части",
                    status=413)


def read_upload(request: Request) -> tuple[bytes, str]:
    if request.content_length and request.content_length > MAX_UPLOAD + MULTIPART_OVERHEAD:
        raise too_large()  # refused before a byte of it is read
    # a sender may lie about the length, or send it in chunks: werkzeug stops reading past this
    limit_body(request, MAX_UPLOAD + MULTIPART_OVERHEAD)
    try:
        if request.files:
            upload = next(iter(request.files.values()))
            content, filename = upload.read(MAX_UPLOAD + 1), upload.filename or "upload"
        else:
            content, filename = request.get_data(), request.args.get("filename", "upload.csv")
    except RequestEntityTooLarge:
        raise too_large() from None
    if len(content) > MAX_UPLOAD:
        raise too_large()
    return content, filename
