"""Every page of the portal, for every role, in Chromium at a small phone (360×740), a larger one
(390×844) and a desktop (1366×900): nothing wider than the screen (`scrollWidth <=
innerWidth`), no English words from the portal itself, buttons and menu entries at least 44 px
tall, and axe-core finds no serious or critical accessibility violation. A screenshot of each
page at each size is kept under var/test-output/screenshots/pages/."""

import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS, sign_in
from tests.events.helpers import link_account, seminar
from tests.factories import card, register
from tests.library import files
from tests.library.test_library import material, upload

pytestmark = pytest.mark.usefixtures("keycloak")

SIZES = {"360": {"width": 360, "height": 740}, "390": {"width": 390, "height": 844},
         "1366": {"width": 1366, "height": 900}}
SHOTS = SCREENSHOTS / "pages"
# Latin words a Russian page may carry: file formats and the e-mail field's own name
# file formats, named as people name them
ALLOWED_LATIN = {"xlsx", "xls", "ods", "pdf", "csv", "docx", "pptx", "webm", "json", "e-mail",
                 "email", "mail"}
# serious and critical only: the standard (WCAG 2.x A/AA) and best-practice rules
AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag',
      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""
MEASURE = """() => {
  const small = [];
  for (const el of document.querySelectorAll(
      'button, .button, .menu a, .tabs a, .pager a, input[type=checkbox]')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // hidden
    const target = el.matches('input[type=checkbox]') ? el.closest('label') || el : el;
    const h = target.getBoundingClientRect().height;
    if (h < 43.5) small.push((el.innerText || el.name || el.tagName).trim() + ': ' + h);
  }
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          text: document.body.innerText, small: small};
}"""


def _axe_script() -> str:
    import axe_playwright_python

    return str(Path(axe_playwright_python.__file__).parent / "axe.min.js")


def latin_words(text: str, allowed: set[str]) -> list[str]:
    """Words in Latin letters that are neither e-mail addresses nor allowed names."""
    text = re.sub(r"\S+@\S+", " ", text)
    # codes with digits in them (an application's number, D893B8D3) are not words
    tokens = re.findall(r"[A-Za-z0-9][A-Za-z0-9\-]*", text)
    return sorted({t.strip("-") for t in tokens if not re.search(r"\d", t)
                   and len(t.strip("-")) > 1 and t.strip("-").lower() not in allowed})


def pages_of(ids: dict[str, int], member: int, app: str, report: int,
             made: dict[str, int]) -> dict[str, list[str]]:
    primary, region = ids["primary"], ids["region"]
    event, meeting, campaign, material = (made[k] for k in ("event", "meeting", "campaign",
                                                            "material"))
    chair = [f"/portal/org/{primary}", "/portal/members", f"/portal/members?within={primary}",
             f"/portal/members/{member}", f"/portal/members/{member}/edit",
             f"/portal/members/{member}/remove", f"/portal/members/{member}/transfer",
             f"/portal/org/{primary}/members/new", f"/portal/org/{primary}/members/import",
             "/portal/applications", f"/portal/applications/{app}/accept",
             f"/portal/applications/{app}/decline", "/portal/applications?status=declined",
             "/portal/cards", "/portal/cards?status=issued",
             f"/portal/reports?org_id={primary}", f"/portal/reports/{report}",
             f"/portal/reports/{report}/submit", "/portal/reports/tracking",
             f"/portal/org/{primary}/passport", f"/portal/org/{primary}/passport/chair",
             f"/portal/org/{primary}/history", f"/portal/org/{primary}/chairs",
             "/portal/quality", f"/portal/quality/org/{primary}", "/portal/no-such-page"]
    regional = [f"/portal/org/{region}", f"/portal/org/{ids['territorial']}",
                f"/portal/members?within={region}", f"/portal/members/{member}",
                "/portal/applications", "/portal/cards", f"/portal/reports?org_id={region}",
                "/portal/reports/tracking", "/portal/quality", f"/portal/quality/org/{region}",
                "/portal/quality/reconciliation", f"/portal/org/{region}/chairs",
                f"/portal/org/{region}/passport", f"/portal/org/{region}/exclude",
                "/portal/no-such-page"]
    chair += ["/portal/transfers", f"/portal/transfers/new?to={primary}&surname=Иванова",
              "/portal/events", "/portal/events/new", f"/portal/events/{event}",
              f"/portal/events/{event}/door", f"/portal/org/{primary}/events",
              f"/portal/meetings/{meeting}", "/portal/library", f"/portal/library/{material}",
              "/portal/library?q=взносы", "/portal/mailing", "/portal/mailing/new",
              f"/portal/mailing/{campaign}", "/portal/privacy/requests"]
    regional += ["/portal/library/new", "/portal/events", "/portal/mailing"]
    admin = ["/portal/audit", "/portal/home", "/portal/home?q=СОШ", f"/portal/org/{ids['central']}",
             "/portal/members", "/portal/quality", "/portal/reports/tracking", "/portal/privacy",
             "/portal/operations"]
    return {"chair": chair, "regional": regional, "admin": admin,
            "auditor": ["/portal/home", f"/portal/audit?record_id={member}",
                        "/portal/no-such-page"],
            "member": ["/portal/account", "/portal/account/card", "/portal/account/data",
                       "/portal/account/events", "/portal/account/mailing"],
            None: ["/", "/join", f"/join?region_id={region}&q=СОШ+№1",
                   f"/join?region_id={region}&q=СОШ+№1&org_id={primary}",
                   f"/join/application-form?region_id={region}&q=СОШ+№1&org_id={primary}",
                   "/portal/nowhere"]}


def _events_mailing_library(api, primary: int, central: int) -> dict[str, int]:
    """An event, a profcom meeting, a mailing's draft and a library material to show."""
    chair = api.as_user("chair")
    event = chair.post(f"/api/v1/organizations/{primary}/events", json=seminar())
    assert event.status_code == 201, event.text
    body = chair.post(f"/api/v1/organizations/{primary}/bodies", json={"kind": "profcom"})
    assert body.status_code == 201, body.text
    meeting = chair.post(f"/api/v1/bodies/{body.json()['id']}/meetings", json={
        "held_on": "2026-11-20", "place": "Учительская",
        "agenda": [{"title": "О плане работы на 2027 год", "speakers": "Председатель ППО"}]})
    assert meeting.status_code == 201, meeting.text
    campaign = chair.post("/api/v1/mailing/campaigns", json={
        "subject": "Собрание коллектива", "body": "Приглашаем на **собрание**.",
        "audience": {"roots": [primary], "members": {}}})
    assert campaign.status_code == 201, campaign.text
    doc = material(api, publisher_org_id=central)
    upload(api, doc["id"], files.pdf("Члены профсоюза уплачивают взносы ежемесячно"),
           "положение.pdf", "2024-01-01")
    return {"event": event.json()["id"], "meeting": meeting.json()["id"],
            "campaign": campaign.json()["id"], "material": doc["id"]}


def test_every_page_fits_every_screen(api, tree, browser, base, engine, tokens):
    ids = tree
    for n in range(1, 4):
        register(api, ids["primary"], n)
    member = register(api, ids["primary"], 4, patronymic="Константиновна-Салтыкова")
    link_account(engine, tokens, member)  # the member's own account pages show her record
    public = api.as_user(None)
    c = card(30)
    app = public.post("/api/v1/join/applications", json={
        **{k: c[k] for k in ("surname", "first_name", "patronymic", "sex", "birth_date")},
        "org_id": ids["primary"], "email": "joiner30@example.ru", "pd_consent": True,
        "category": "student"}).json()["id"]
    report = api.as_user("chair").post(f"/api/v1/organizations/{ids['primary']}/reports",
                                       json={"family": "stat", "day": "2026-10-01"})
    assert report.status_code in (200, 201), report.text
    assert api.post("/api/v1/quality/runs").status_code == 200
    made = _events_mailing_library(api, ids["primary"], ids["central"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe = _axe_script()
    problems: list[str] = []
    for role, paths in pages_of(ids, member, app, report.json()["id"], made).items():
        # the CSP forbids inline scripts; axe is injected by the test, not by the portal
        context = browser.new_context(viewport=SIZES["390"], locale="ru-RU", bypass_csp=True)
        context.set_default_timeout(20_000)
        page = context.new_page()
        allowed = set(ALLOWED_LATIN)
        if role is not None:
            page.goto(base + "/portal/login")
            sign_in(page, f"{role}@test.reestr", PASSWORD)
            allowed |= {role.lower(), role.split("_")[0]}  # the test users' first names
        for path in paths:
            for size, viewport in SIZES.items():
                page.set_viewport_size(viewport)
                answer = page.goto(base + path)
                slug = re.sub(r"[^\w-]", "_", path)[:80]
                name = f"{role or 'public'}-{slug}-{size}"
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
                seen = page.evaluate(MEASURE)
                where = f"{role or 'public'} {path} @{size}"
                expected = 404 if "no-such-page" in path or "nowhere" in path else 200
                if answer is None or answer.status != expected:
                    problems.append(f"{where}: answered {answer and answer.status}, not "
                                    f"{expected}")
                if seen["scroll"] > seen["inner"]:
                    problems.append(f"{where}: {seen['scroll']} px wide on {seen['inner']}")
                if words := latin_words(seen["text"], allowed):
                    problems.append(f"{where}: English words {words}")
                if seen["small"]:
                    problems.append(f"{where}: targets under 44 px {seen['small'][:5]}")
                if size == "390":  # the rules do not depend on the width: once a page
                    page.add_script_tag(path=axe)
                    for v in page.evaluate(AXE_RUN):
                        problems.append(f"{where}: axe {v['impact']} {v['id']} ({v['help']}) "
                                        f"at {v['nodes']}")
        context.close()
    assert not problems, "\n".join(problems)
