"""Pure checks of the mailing's text and tokens (no services)."""

import time

import pytest

from services.common.errors import ValidationFailed
from services.notify import campaigns, unsubscribe
from services.notify.settings import NotifySettings


def test_markdown_is_sanitised():
    html, plain = campaigns.render_body(
        "**Съезд** <script>alert(1)</script>\n\n[x](javascript:alert(1)) "
        "[ok](https://example.ru) <img src=x onerror=alert(1)>")
    assert "<strong>Съезд</strong>" in html
    # markup is kept as text, a javascript: link is not made a link
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html
    assert 'href="https://example.ru"' in html and 'rel="noopener noreferrer"' in html
    assert plain.startswith("**Съезд**")


def test_tokens_forged_expired_and_without_secret():
    conf = NotifySettings(mailing_secret="s" * 32, unsubscribe_token_days=1)
    token = unsubscribe.make(conf, "a@example.ru", 7)
    assert unsubscribe.read(conf, token) == {"email": "a@example.ru", "campaign_id": 7}
    other = NotifySettings(mailing_secret="t" * 32)
    with pytest.raises(unsubscribe.TokenRefused) as forged:
        unsubscribe.read(other, token)
    assert forged.value.code == "token_forged" and "Ничего не изменено" in forged.value.message
    expired = NotifySettings(mailing_secret="s" * 32, unsubscribe_token_days=-1)
    time.sleep(1.1)
    with pytest.raises(unsubscribe.TokenRefused) as old:
        unsubscribe.read(expired, token)
    assert old.value.code == "token_expired"
    with pytest.raises(RuntimeError):
        unsubscribe.make(NotifySettings(mailing_secret=""), "a@example.ru", 1)


def test_bad_drafts_refused():
    with pytest.raises(ValidationFailed) as bad:
        campaigns.check_draft({"subject": "т" * 201, "body": "x", "audience": {"roots": []}})
    fields = {d["field"] for d in bad.value.details}
    assert fields == {"subject", "audience"}
    with pytest.raises(ValidationFailed):
        campaigns.check_audience({"members": {"categories": ["nobody"]}})
