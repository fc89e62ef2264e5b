"""The web portal in Russian, served by the gateway: server-rendered pages over the services.

One module per area, each a mixin of page handlers with its templates in `templates/<area>/`:
auth (sign-in and -out, landing), home (an organization at a glance and the organizations
beneath), passport, members, applications, cards, account (the member's personal account),
join (the public «Вступить в Профсоюз»), transfers (between chairs), reports, quality
(data quality), chairs (the chairs' accounts and «Отправить приглашение ещё раз»),
operations (the operators' page), library (the reference library), audit (the auditor's page),
mailing (campaigns, the audience builder, approval, the member's consents to mailings).
`web.py` holds the entrypoint and helpers, `session.py` the cookies, `oidc.py` Keycloak,
`nav.py` the menu. To add
an area: a module with a mixin class of `@page(...)` handlers, its templates, a line in
`nav.py` and the mixin below.
"""

from nameko.extensions import DependencyProvider

from gateway.portal.account import AccountPages
from gateway.portal.applications import ApplicationPages
from gateway.portal.audit import AuditPages
from gateway.portal.auth import AuthPages
from gateway.portal.cards import CardPages
from gateway.portal.chairs import ChairPages
from gateway.portal.events import EventPages
from gateway.portal.home import HomePages
from gateway.portal.join import JoinPages
from gateway.portal.library import LibraryPages
from gateway.portal.mailing import MailingPages
from gateway.portal.members import MemberPages
from gateway.portal.operations import OperationsPages
from gateway.portal.passport import PassportPages
from gateway.portal.privacy import PrivacyPages
from gateway.portal.quality import QualityPages
from gateway.portal.reports import ReportPages
from gateway.portal.settings import require_secrets
from gateway.portal.transfers import TransferPages


class RequiredSecrets(DependencyProvider):
    """Checks the portal's secrets when the gateway starts: without them it does not start
    (the error names the missing variables), rather than sealing cookies with a known key."""

    def setup(self) -> None:
        require_secrets()


class Portal(AuthPages, HomePages, PassportPages, MemberPages, ApplicationPages, CardPages,
             AccountPages, JoinPages, ReportPages, QualityPages, ChairPages, OperationsPages,
             LibraryPages, TransferPages, AuditPages, MailingPages, PrivacyPages, EventPages):
    """Every page of the portal, mixed into GatewayService."""

    portal_secrets = RequiredSecrets()
