"""Files sent to the gateway: a multipart form field or the raw request body."""

from werkzeug.wrappers import Request

from gateway.http import BadInput

MAX_UPLOAD = 100 * 1024 * 1024


def read_upload(request: Request) -> tuple[bytes, str]:
    if request.content_length and request.content_length > MAX_UPLOAD:
        raise BadInput("file_too_large", "Файл больше 100 МБ: разделите его на части")
    if request.files:
        upload = next(iter(request.files.values()))
        content, filename = upload.read(MAX_UPLOAD + 1), upload.filename or "upload"
    else:
        content, filename = request.get_data(), request.args.get("filename", "upload.csv")
    if len(content) > MAX_UPLOAD:  # a sender may lie about the length, or send none
        raise BadInput("file_too_large", "Файл больше 100 МБ: разделите его на части")
    return content, filename
