"""Signed unsubscribe tokens: who (the address), from which campaign, made when.

HMAC-SHA256 by itsdangerous with MAILING_SECRET, which has no default: without it nothing is
signed and a campaign does not start. A token is good for `unsubscribe_token_days`; a forged or
expired one changes nothing (the page says so in Russian).
"""

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.notify.settings import NotifySettings

SALT = "reestr-mailing-unsubscribe"


class TokenRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _serializer(conf: NotifySettings) -> URLSafeTimedSerializer:
    if len(conf.mailing_secret) < 16:
        raise RuntimeError("MAILING_SECRET is not set (at least 16 characters): "
                           "unsubscribe links cannot be signed")
    return URLSafeTimedSerializer(conf.mailing_secret, salt=SALT)


def make(conf: NotifySettings, email: str, campaign_id: int) -> str:
    return str(_serializer(conf).dumps({"e": email, "c": int(campaign_id)}))


def read(conf: NotifySettings, token: Any) -> dict[str, Any]:
    if not isinstance(token, str) or not 10 < len(token) < 2000:
        raise TokenRefused("token_malformed", "Ссылка повреждена: откройте её из письма целиком")
    try:
        data = _serializer(conf).loads(token, max_age=int(conf.unsubscribe_token_days * 86400))
    except SignatureExpired:
        raise TokenRefused("token_expired", "Срок действия ссылки истёк. Откройте ссылку из "
                                            "более нового письма или войдите в личный кабинет"
                           ) from None
    except BadSignature:
        raise TokenRefused("token_forged", "Ссылка недействительна: она не из нашего письма "
                                           "или повреждена. Ничего не изменено") from None
    if not isinstance(data, dict) or "e" not in data:
        raise TokenRefused("token_forged", "Ссылка недействительна. Ничего не изменено")
    return {"email": str(data["e"]), "campaign_id": int(data.get("c") or 0)}


def links(conf: NotifySettings, email: str, campaign_id: int) -> dict[str, str]:
    token = make(conf, email, campaign_id)
    base = conf.unsubscribe_url.rstrip("/") if conf.unsubscribe_url else \
        conf.portal_url.rstrip("/") + "/mailing/unsubscribe"
    return {"token": token, "one_click": f"{base}/{token}", "page": f"{base}/{token}"}
