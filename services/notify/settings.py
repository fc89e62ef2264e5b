"""Notify's settings, from the environment with local defaults (the Mailpit deploy/up.sh starts).

In production SMTP_HOST names any relay; SMTP_STARTTLS and SMTP_USER / SMTP_PASSWORD log in.
"""

from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout_s: float = 10
    mail_from: str = "Единый реестр Профсоюза <noreply@reestr.local>"
    # the relay is not flooded: at most this many messages a second (a relay with a quota,
    # a provider's 14 a second say, sets its own); one connection a run
    mail_rate_per_s: float = 250
    send_batch: int = 200
    # a run sends batch after batch while messages are due, up to this long (a backlog is not
    # sent one batch per timer tick: that capped delivery at send_batch / send_interval_s)
    send_run_s: float = 30
    # connections to the relay side by side: each has at most one message in flight, which a
    # crash may send again (README «At most once, except one»); 1 keeps that to one in all
    send_connections: int = 4
    # how often the queue is looked at (what is due goes out, in order)
    send_interval_s: float = 2
    # a 4xx answer is tried again after retry_base_s, doubling up to retry_max_s; after
    # max_attempts the message is held for an operator
    retry_base_s: float = 30
    retry_max_s: float = 3600
    max_attempts: int = 20
    # invitations of accounts made in bulk (a national load: 72,000 chairs) are asked of
    # Keycloak at this pace, through sso: tens of milliseconds and an e-mail each
    invite_rate_per_s: float = 10
    invite_batch: int = 20
    # the same variables as sso's: whether accounts the platform makes are invited, whether a
    # loaded file's chairs get accounts at once, and how long an invitation's link works
    invite_new_accounts: bool = True
    accounts_on_import: bool = True
    invitation_lifespan_d: float = 7
    # «Отправить приглашение ещё раз» queues nothing while an invitation this young is queued
    # or sent (a double click, two people of a region at once)
    reinvite_after_s: float = 600
    # the chairs' digest of applications waiting goes out once a day (the timer looks hourly)
    digest_interval_s: float = 3600
    digest_every_h: float = 24
    # the chairs' digest of cards delivered and not handed out: at most once a week
    cards_digest_every_h: float = 168
    # chairs whose report is not submitted are reminded this many days before a reporting date
    # (each once); the timer looks every few hours
    report_remind_days: str = "7,1"
    report_remind_interval_s: float = 3 * 3600
    # an import that took longer than this is told to whoever started it by e-mail
    long_import_s: float = 120
    # links in messages point here
    portal_url: str = "http://127.0.0.1:8000"
    # mailing (campaigns.py): the key that signs unsubscribe links (no default: a campaign
    # does not start without it), how long a link works, where it points (https in
    # production; the portal's /mailing/unsubscribe by default), the optional mailto
    mailing_secret: str = ""
    unsubscribe_token_days: float = 400
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    # campaigns above this many recipients wait for a second person (the Central Council
    # changes it in notify.mailing_setting); union-wide ones always wait
    approval_above_default: int = 5000
    # recipients queued in one statement when a campaign starts
    campaign_queue_chunk: int = 100_000


def notify_settings() -> NotifySettings:
    return NotifySettings()


def remind_days(conf: NotifySettings) -> list[int]:
    return sorted({int(d) for d in conf.report_remind_days.replace(" ", "").split(",") if d},
                  reverse=True)
