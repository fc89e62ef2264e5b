"""Security headers on every answer of the gateway: the portal's pages, the JSON API, static
files, redirects and routing errors alike (set in one place, the WSGI app of http.py).

The portal runs no script of its own and no inline style, so the policy allows only files of
this site; forms may post here and to Keycloak (a form posted into an expired session is sent on
to sign in there); no other site may frame a page (clickjacking).
"""

from functools import lru_cache
from urllib.parse import urlsplit

from services.sso.settings import sso_settings

HSTS = "max-age=31536000; includeSubDomains"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@lru_cache(maxsize=1)
def _fixed() -> tuple[tuple[tuple[str, str], ...], bool]:
    conf = sso_settings()
    keycloak = _origin(conf.keycloak_url)
    policy = "; ".join((
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "object-src 'none'", "base-uri 'none'", f"form-action 'self' {keycloak}".strip(),
        "frame-ancestors 'none'"))
    headers = (("Content-Security-Policy", policy),
               ("X-Content-Type-Options", "nosniff"),
               ("Referrer-Policy", "same-origin"),
               ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers that predate it
               ("Cross-Origin-Opener-Policy", "same-origin"))
    return headers, conf.portal_url.startswith("https://")


def over_tls(environ: dict) -> bool:
    """Behind TLS: the gateway's own scheme, the proxy's X-Forwarded-Proto, or a portal whose
    public address is https (HSTS over plain HTTP is ignored by browsers, so a claim costs
    nothing)."""
    forwarded = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
    return environ.get("wsgi.url_scheme") == "https" or forwarded == "https" or _fixed()[1]


def security_headers(environ: dict) -> list[tuple[str, str]]:
    headers = list(_fixed()[0])
    if over_tls(environ):
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def with_security_headers(environ: dict, start_response,
                          more: list[tuple[str, str]] | None = None):
    """`start_response` that adds the headers, and `more` (replacing any the handler set of the
    same name)."""
    extra = security_headers(environ) + (more or [])
    names = {name.lower() for name, _ in extra}

    def start(status, headers, exc_info=None):
        kept = [(n, v) for n, v in headers if n.lower() not in names]
        return start_response(status, kept + extra, exc_info)
    return start
