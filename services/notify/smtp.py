"""The mail server through smtplib: one connection for a batch, answers sorted into what they
mean for a message (sent, try again later, the address is refused for good, the server away)."""

import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from types import TracebackType

from services.notify.settings import NotifySettings
from services.notify.templates import Rendered


class ServerAway(Exception):
    """No answer, or the connection broke: nothing is known about the message; later."""


@dataclass(frozen=True)
class Refused(Exception):
    code: int
    detail: str

    @property
    def permanent(self) -> bool:
        return self.code >= 500


def build(settings: NotifySettings, recipient: str, rendered: Rendered,
          message_key: str) -> MIMEMultipart:
    # email.mime with Header (compat32): the newer EmailMessage folds a long Cyrillic subject
    # into encoded words that lose the space between two words (CPython's folder)
    msg = MIMEMultipart("alternative")
    msg["From"] = _address(settings.mail_from)
    msg["To"] = recipient
    msg["Subject"] = Header(rendered.subject, "utf-8")
    msg["Date"] = formatdate(localtime=True)
    # the queue's id in the Message-ID: a message sent twice (see the README) is recognisable
    msg["Message-ID"] = make_msgid(idstring=message_key, domain="reestr.notify")
    msg.attach(MIMEText(rendered.text, "plain", "utf-8"))
    msg.attach(MIMEText(rendered.html, "html", "utf-8"))
    return msg


def _address(value: str) -> str:
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8") if name else addr


class Mailer:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.conn: smtplib.SMTP | None = None

    def __enter__(self) -> "Mailer":
        conf = self.settings
        try:
            conn = smtplib.SMTP(conf.smtp_host, conf.smtp_port, timeout=conf.smtp_timeout_s)
            conn.ehlo()
            if conf.smtp_starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if conf.smtp_user:
                conn.login(conf.smtp_user, conf.smtp_password)
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerAway(f"{type(exc).__name__}: {exc}") from exc
        self.conn = conn
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                self.conn.close()
            self.conn = None

    def send(self, sender: str, recipient: str, msg: MIMEMultipart | bytes) -> None:
        assert self.conn is not None
        try:
            refused = self.conn.sendmail(sender, [recipient],
                                         msg if isinstance(msg, bytes) else msg.as_bytes())
        except smtplib.SMTPRecipientsRefused as exc:
            code, detail = next(iter(exc.recipients.values()))
            raise Refused(int(code), _text(detail)) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise Refused(int(exc.smtp_code), _text(exc.smtp_error)) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise ServerAway(str(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            raise Refused(int(exc.smtp_code), _text(exc.smtp_error)) from None
        except OSError as exc:
            raise ServerAway(f"{type(exc).__name__}: {exc}") from exc
        if refused:  # one recipient a message: this is not reached, but say so if it is
            code, detail = next(iter(refused.values()))
            raise Refused(int(code), _text(detail))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def noop(settings: NotifySettings) -> str:
    """The health check: connect, NOOP, quit."""
    try:
        with Mailer(settings) as mailer:
            assert mailer.conn is not None
            code, _ = mailer.conn.noop()
    except ServerAway:
        return "unavailable"
    return "ok" if code == 250 else f"error: {code}"


def envelope_sender(settings: NotifySettings) -> str:
    return parseaddr(settings.mail_from)[1]
