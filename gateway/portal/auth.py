"""Signing in and out through Keycloak, the landing page, and where each user starts."""

import mimetypes
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway import ratelimit
from gateway.http import call
from gateway.portal import oidc, session
from gateway.portal.labels import LEVELS
from gateway.portal.session import LOGIN, LOGIN_TTL_S, box
from gateway.portal.web import HERE, ctx, gather, page, redirect, render
from services.common.roles import MEMBER

STATIC = {p.name: p for p in (HERE / "static").iterdir()}


class AuthPages:
    registry: Any

    @page("GET", "/", public=True)
    def portal_landing(self, request: Request) -> Response:
        if ctx(request).signed_in:
            return redirect("/portal/home")
        return render(request, "landing.html")

    @page("GET", "/portal/home")
    def portal_home(self, request: Request) -> Response:
        """Chairs and staff start at their organization; members at their account."""
        caller = ctx(request).caller
        assert caller is not None
        roots = caller.scope_roots
        if roots is None:  # the Central Council and operators: the whole tree
            q = request.args.get("q", "").strip()
            found = call(self.registry, "search", q, None, None, False, 50) if q else []
            return render(request, "home/search.html", q=q, found=found, LEVELS=LEVELS)
        if len(roots) == 1:
            return redirect(f"/portal/org/{roots[0]}")
        if roots:
            orgs = gather(*((self.registry, "get_organization", oid) for oid in roots[:20]))
            return render(request, "home/choose.html", orgs=orgs)
        if MEMBER in caller.roles:
            return redirect("/portal/account")
        if caller.reads_audit:  # the Central Council's auditor: the access log
            return redirect("/portal/audit")
        return render(request, "home/no_access.html", status=403)

    @page("GET", "/portal/login", public=True)
    def portal_login(self, request: Request) -> Response:
        ratelimit.check_address(request, "signin")
        start = oidc.start_login()
        response = redirect(start.url)
        response.set_cookie(LOGIN, box().seal({
            "state": start.state, "verifier": start.verifier,
            "next": session.safe_next(request.args.get("next"))}),
            max_age=LOGIN_TTL_S, path="/portal/callback", httponly=True, samesite="Lax")
        return response

    @page("GET", "/portal/callback", public=True)
    def portal_callback(self, request: Request) -> Response:
        ratelimit.check_address(request, "signin")
        started = box().open(request.cookies.get(LOGIN), ttl=LOGIN_TTL_S)
        code, state = request.args.get("code"), request.args.get("state")
        if not isinstance(started, dict) or not code or state != started.get("state"):
            return render(request, "auth/failed.html", status=400,
                          message="Вход не завершён: начните заново")
        try:
            tokens = oidc.exchange_code(code, started["verifier"])
        except oidc.SignInFailed:
            return render(request, "auth/failed.html", status=400,
                          message="Сервер входа не подтвердил вход: начните заново")
        ctx(request).keep_tokens(tokens)
        response = redirect(session.safe_next(started.get("next")))
        response.delete_cookie(LOGIN, path="/portal/callback")
        return response

    @page("POST", "/portal/logout", public=True)
    def portal_logout(self, request: Request) -> Response:
        refresh_token = box().open(request.cookies.get(session.REFRESH))
        if refresh_token:
            oidc.end_session(refresh_token)
        portal = ctx(request)
        portal.forget()
        portal.set_flash("Вы вышли из реестра")
        return redirect("/")

    @page("GET", "/portal/static/<name>", public=True)
    def portal_static(self, request: Request, name: str) -> Response:
        path = STATIC.get(name)
        if path is None:
            return Response("", status=404)
        return Response(path.read_bytes(), mimetype=mimetypes.guess_type(name)[0],
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})
