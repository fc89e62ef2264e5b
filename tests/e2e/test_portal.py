"""The portal in a real browser (Chromium, headless) against the real services and Keycloak:
a chair signs in, registers a member, imports a file and reads its report, accepts and declines
applications; a person joins online and then sees their personal account; a chair of another
organization reaches none of it; an expired session keeps what was typed."""

import csv
import io
import re

import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in
from tests.factories import card, org, snils
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("keycloak")


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def application(n: int, **fields) -> dict:
    c = card(n)
    data = {k: c[k] for k in ("surname", "first_name", "patronymic", "sex", "birth_date",
                              "phone")}
    return {**data, "org_id": 5, "email": f"joiner{n}@example.ru", "pd_consent": True,
            "category": "student", **fields}


def members_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(["Фамилия", "Имя", "Отчество", "Дата рождения", "СНИЛС", "Категория",
                "Согласие на обработку ПДн"])
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def chair_page(new_page, base, user: str = "chair", phone: bool = False):
    page = new_page(phone=phone)
    page.goto(base + "/portal/login")
    sign_in(page, f"{user}@test.reestr", PASSWORD)
    return page


def test_chair_registers_imports_and_decides(api, synced_tree, engine, new_page, base, screens):
    # an organization whose name carries a script: shown as text, never run
    hostile = "Профгруппа <script>window.__xss = 1</script> «Б»"
    r = api.post("/api/v1/organizations", json=org("subdivision", "59-С-9", hostile,
                                                   synced_tree["primary"], kind="union_group"))
    assert r.status_code == 201, r.text
    public = api.as_user(None)
    first = public.post("/api/v1/join/applications", json=application(40)).json()["id"]
    second = public.post("/api/v1/join/applications", json=application(41)).json()["id"]

    page = chair_page(new_page, base, phone=True)
    assert page.url == f"{base}/portal/org/5"
    assert page.locator("h1").inner_text() == "ППО МБОУ «СОШ № 1» г. Кунгура"
    tile = page.locator("a.tile", has_text="заявления ждут решения")
    assert tile.locator("b").inner_text() == "2"
    assert page.get_by_text(hostile).count() == 1
    assert page.evaluate("window.__xss") is None
    screens.shot(page, "1-home")

    # register a member: a wrong SNILS is named next to its field and nothing is written
    page.click("text=Поставить на учёт")
    c = card(1)
    page.fill("input[name=surname]", "Смирнова")
    page.fill("input[name=first_name]", "Анна")
    page.fill("input[name=birth_date]", c["birth_date"])
    page.fill("input[name=snils]", "123-456-789 00")
    page.fill("input[name=pd_consent_on]", "2024-01-10")
    page.click("main button[type=submit]")
    error = page.locator("label.field.bad", has=page.locator("input[name=snils]"))
    assert "СНИЛС" in error.locator(".err").inner_text()
    assert page.input_value("input[name=surname]") == "Смирнова"  # what was typed stays
    assert scalar(engine, "SELECT count(*) FROM membership.member") == 0
    screens.shot(page, "2-register-error")
    page.fill("input[name=snils]", c["snils"])
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/members/\d+$"))
    assert "Смирнова Анна" in page.locator("h1").inner_text()
    assert "поставлен на учёт" in page.locator(".flash").inner_text()
    assert scalar(engine, "SELECT count(*) FROM membership.member WHERE surname = 'Смирнова'"
                  ) == 1
    screens.shot(page, "3-member-card")

    # import a file: the report names the bad row; nothing loads until asked
    page.goto(base + "/portal/org/5/members/import")
    good, bad = card(2), card(3)
    content = members_csv([
        [good["surname"], good["first_name"], "", "15.03.1985", good["snils"], "работающий",
         "10.01.2024"],
        [bad["surname"], bad["first_name"], "", "31.02.1980", "", "работающий", "10.01.2024"]])
    page.set_input_files("input[name=file]", files=[{
        "name": "члены.csv", "mimeType": "text/csv", "buffer": content}])
    page.click("#load-button")
    report = page.locator("#report")
    assert "Отчёт о загрузке: члены.csv" in report.inner_text()
    error_row = report.locator("table.rows tbody tr")
    assert error_row.count() == 1
    assert error_row.locator("td").nth(0).inner_text() == "3"
    assert "Дата" in error_row.locator("td").nth(2).inner_text()
    assert scalar(engine, "SELECT count(*) FROM membership.member") == 1
    screens.shot(page, "4-import-report")
    page.set_input_files("input[name=file]", files=[{
        "name": "члены.csv", "mimeType": "text/csv", "buffer": content}])
    page.check("input[name=load_good_rows]")
    page.click("#load-button")
    loaded = page.locator("#report tr", has_text="Поставлено на учёт").locator("td.num")
    assert loaded.inner_text() == "1"
    assert scalar(engine, "SELECT count(*) FROM membership.member") == 2

    # the queue: accept one, decline the other (a reason is required)
    page.goto(base + "/portal/applications")
    assert page.locator("article.app").count() == 2
    screens.shot(page, "5-applications")
    page.locator("article.app", has_text=card(40)["surname"]).locator(
        "a", has_text="Принять").click()
    # a page asks first; nothing is decided until it is answered
    page.wait_for_url(re.compile(r"/portal/applications/[^/]+/accept$"))
    assert scalar(engine, "SELECT status FROM membership.application WHERE id = :id",
                  id=first) == "submitted"
    page.click("text=Да, принять")
    page.wait_for_url(re.compile(r"/portal/members/\d+$"))
    assert card(40)["surname"] in page.locator("h1").inner_text()
    assert scalar(engine, "SELECT status FROM membership.application WHERE id = :id",
                  id=first) == "accepted"
    page.goto(base + f"/portal/applications/{second}/decline")
    page.click("main button[type=submit]")
    assert "причину" in page.locator("label.field.bad .err").inner_text()
    assert scalar(engine, "SELECT status FROM membership.application WHERE id = :id",
                  id=second) == "submitted"
    page.fill("textarea[name=reason]", "Не работает и не учится в этой школе")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/portal/applications?status=declined")
    assert scalar(engine, "SELECT decline_reason FROM membership.application WHERE id = :id",
                  id=second) == "Не работает и не учится в этой школе"
    screens.shot(page, "6-declined")
    # a decline made by mistake is undone the same day by whoever made it
    page.click("button:has-text(\"Отменить отказ\")")
    page.wait_for_url(f"{base}/portal/applications")
    assert "снова ждёт решения" in page.locator(".flash").inner_text()
    assert scalar(engine, "SELECT status FROM membership.application WHERE id = :id",
                  id=second) == "submitted"


def test_passport_tab_edit_with_history(api, synced_tree, engine, new_page, base, screens):
    page = chair_page(new_page, base)
    page.goto(base + "/portal/org/5/passport/education")
    page.fill("input[name='education.inn']", "5900000000")
    page.click("main button[type=submit]")
    field = page.locator("label.field.bad", has=page.locator("input[name='education.inn']"))
    assert field.locator(".err").inner_text()
    screens.shot(page, "1-bad-inn")
    assert api.get("/api/v1/organizations/5").json()["education"]["name"] == "МБОУ «СОШ № 1»"
    page.fill("input[name='education.name']", "МБОУ «Средняя школа № 1»")
    page.fill("input[name='education.inn']", "")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/org/5/passport"))
    assert "сохранена" in page.locator(".flash").inner_text()
    assert api.get("/api/v1/organizations/5").json()["education"] == {
        "name": "МБОУ «Средняя школа № 1»", "type": "school", "inn": None}
    home = page.goto(base + "/portal/org/5")
    assert home.status == 200
    assert page.get_by_text("Не указан ИНН образовательной организации").count() == 1
    page.goto(base + "/portal/org/5/history")
    assert "МБОУ «Средняя школа № 1»" in page.locator("section.box").first.inner_text()
    screens.shot(page, "2-history")


def test_person_joins_and_sees_personal_account(api, synced_tree, engine, rpc, new_page, base,
                                                screens):
    page = new_page(phone=True)
    page.goto(base + "/")
    page.click("text=Вступить в Профсоюз")
    page.select_option("select[name=region_id]", label="Пермская краевая организация")
    page.fill("input[name=q]", "СОШ")
    page.click("button:has-text('Найти')")
    page.click("text=ППО МБОУ «СОШ № 1» г. Кунгура")
    page.fill("input[name=surname]", "Кузнецова")
    page.fill("input[name=first_name]", "Ольга")
    page.fill("input[name=birth_date]", "2005-05-20")
    page.fill("input[name=email]", "olga.k@example.ru")
    page.check("input[name=email_consent]")
    screens.shot(page, "1-form")
    page.click("button:has-text('Подать заявление')")
    consent = page.locator("label.check.bad", has=page.locator("input[name=pd_consent]"))
    assert "согласия" in consent.locator(".err").inner_text()
    assert page.input_value("input[name=surname]") == "Кузнецова"
    assert scalar(engine, "SELECT count(*) FROM membership.application") == 0
    page.check("input[name=pd_consent]")
    page.click("button:has-text('Подать заявление')")
    page.wait_for_url(re.compile(r"/join/applications/[0-9a-f-]{36}$"))
    assert "на рассмотрении" in page.locator("dl").inner_text()
    screens.shot(page, "2-submitted")
    app_id = page.url.rsplit("/", 1)[1]

    member = api.as_user("chair").post(f"/api/v1/applications/{app_id}/accept").json()
    api.as_user("chair").post(f"/api/v1/members/{member['id']}/card-requests")
    assert wait_until(lambda: scalar(
        engine, "SELECT account_subject FROM membership.member WHERE id = :id",
        id=member["id"]), timeout=30)
    # the invitation e-mail lets the person choose a password; here the operator sets it
    rpc.sso.set_password("olga.k@example.ru", "Olga-password-1", False)
    page.reload()
    assert "принято" in page.locator("dl").inner_text()
    page.click("text=Войти в личный кабинет")
    sign_in(page, "olga.k@example.ru", "Olga-password-1")
    page.wait_for_url(f"{base}/portal/account")
    body = page.locator("main").inner_text()
    assert "Кузнецова Ольга" in body and "ППО МБОУ «СОШ № 1» г. Кунгура" in body
    number = scalar(engine, "SELECT number FROM cards.card WHERE member_id = :id",
                    id=member["id"])
    shown = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    assert page.locator(".vcard .vc-number").inner_text() == shown
    screens.shot(page, "3-account")
    page.click("button:has-text('отозвать')")
    assert "Согласие отозвано" in page.locator(".flash").inner_text()
    assert scalar(engine, "SELECT email_consent FROM membership.member WHERE id = :id",
                  id=member["id"]) is False
    # a member is not a chair: the registry's pages are not theirs
    assert page.goto(base + "/portal/org/5").status == 404


def test_chair_of_another_organization_reaches_none_of_it(api, synced_tree, engine, new_page,
                                                          base, screens):
    chair = api.as_user("chair")
    member = chair.post("/api/v1/organizations/5/members", json=card(7)).json()
    app_id = api.as_user(None).post("/api/v1/join/applications",
                                    json=application(42)).json()["id"]
    page = chair_page(new_page, base, user="chair2")
    assert page.url == f"{base}/portal/org/9"
    for path in ("/portal/org/5", "/portal/org/5/passport", "/portal/org/5/passport/chair",
                 "/portal/org/5/history", "/portal/org/5/members/new",
                 "/portal/org/5/members/import", f"/portal/members/{member['id']}",
                 f"/portal/members/{member['id']}/edit", "/portal/members?within=5",
                 "/portal/applications?within=5", f"/portal/applications/{app_id}/decline",
                 "/portal/org/4"):
        answer = page.goto(base + path)
        assert answer.status == 404, path
        assert "не найден" in page.locator("main").inner_text(), path
    screens.shot(page, "1-not-found")
    listing = page.goto(base + "/portal/members?q=" + member["surname"])
    assert listing.status == 200
    assert page.locator("table.rows").count() == 0
    page.goto(base + "/portal/applications")
    assert page.locator("article.app").count() == 0
    # a forged form post with chair2's own valid CSRF token changes nothing
    page.goto(base + "/portal/org/9")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    for path, form in ((f"/portal/applications/{app_id}/accept", {}),
                       (f"/portal/members/{member['id']}/remove",
                        {"removed_on": "2026-01-01", "reason": "own_will"}),
                       ("/portal/org/5/passport/chair", {"chair.surname": "Захватов",
                                                         "chair.first_name": "Иван"})):
        answer = page.request.post(base + path, form={"csrf": csrf, **form})
        assert answer.status == 404, path
    assert scalar(engine, "SELECT status FROM membership.application WHERE id = :id",
                  id=app_id) == "submitted"
    assert scalar(engine, "SELECT removed_on FROM membership.member WHERE id = :id",
                  id=member["id"]) is None
    assert api.get("/api/v1/organizations/5").json()["chair"] is None
    # and without the token a post is refused before anything is called
    answer = page.request.post(base + "/portal/org/9/passport/chair",
                               form={"chair.surname": "Без", "chair.first_name": "Токена"})
    assert answer.status == 400
    assert api.get("/api/v1/organizations/9").json()["chair"] is None


def test_expired_session_keeps_what_was_typed(api, synced_tree, engine, keycloak, new_page,
                                              base, screens):
    from services.sso.keycloak import admin_client

    page = chair_page(new_page, base)
    page.goto(base + "/portal/org/5/members/new")
    page.fill("input[name=surname]", "Орлова")
    page.fill("input[name=first_name]", "Вера")
    page.fill("input[name=birth_date]", "1979-11-02")
    page.fill("input[name=snils]", snils(21))
    page.fill("input[name=pd_consent_on]", "2024-02-01")
    # the session ends in Keycloak and the access token runs out while the chair types
    admin = admin_client(keycloak)
    user = admin.get_users({"username": "chair@test.reestr", "exact": True})[0]
    admin.user_logout(user["id"])
    context = page.context
    context.clear_cookies(name="rs_at")
    page.click("main button[type=submit]")
    sign_in(page, "chair@test.reestr", PASSWORD)
    page.wait_for_url(f"{base}/portal/org/5/members/new")
    assert "данные сохранены" in page.locator(".flash").inner_text()
    assert page.input_value("input[name=surname]") == "Орлова"
    assert page.input_value("input[name=snils]") == snils(21)
    assert scalar(engine, "SELECT count(*) FROM membership.member") == 0
    screens.shot(page, "1-draft-restored")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/members/\d+$"))
    assert scalar(engine, "SELECT count(*) FROM membership.member WHERE surname = 'Орлова'") == 1
    # signing out ends the Keycloak session too: the next sign-in asks for the password
    page.click("button:has-text('Выйти')")
    page.wait_for_url(f"{base}/")
    assert "Вы вышли" in page.locator(".flash").inner_text()
    page.goto(base + "/portal/org/5")
    page.wait_for_selector("#kc-form-login")


def test_chair_checks_maps_a_column_loads_and_downloads_the_refused_rows(
        api, synced_tree, engine, new_page, base, screens):
    from openpyxl import load_workbook

    good, bad = card(5), card(6)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(["Список членов ППО на 01.12.2026"])
    w.writerow(["ФИО", "Дата рожд.", "Моб. связь", "СНИЛС", "Категория",
                "Согласие на обработку ПДн"])
    w.writerow([f"{good['surname'].upper()} {good['first_name']}", "24.06.64",
                "8 (912) 345-67-89", good["snils"], "работающий", "10.01.2024"])
    w.writerow([f"{bad['surname']} {bad['first_name']}", "15.03.1985", "", "123-456-789 00",
                "космонавт", "10.01.2024"])
    w.writerow(["Итого членов Профсоюза: 2"])
    content = out.getvalue().encode("cp1251")

    page = chair_page(new_page, base, phone=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(base + "/portal/org/5/members/import")
    assert page.locator("input[name=file]").get_attribute("accept") == ".xlsx,.xls,.ods,.csv"
    page.set_input_files("input[name=file]", files=[{
        "name": "список.csv", "mimeType": "text/csv", "buffer": content}])
    page.click("#check-button")
    check = page.locator("#check")
    assert "ничего не записано" in check.inner_text()
    assert page.locator("#report").count() == 0
    # the file's header -> the field; the unknown column offered for mapping by hand
    unknown = page.locator("#mapping tr", has_text="Моб. связь").locator("select")
    assert unknown.input_value() == ""
    assert page.locator("#mapping tr", has_text="Дата рожд.").locator("select").input_value() \
        == "birth_date"
    preview = page.locator("#preview tbody tr").first
    assert good["surname"] in preview.inner_text() and "24.06.1964" in preview.inner_text()
    errors = check.locator("table.rows", has_text="Ошибка").last.locator("tbody tr")
    assert errors.first.locator("td").first.inner_text() == "4"  # as the spreadsheet numbers it
    assert "допустимы" in check.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # fits a phone
    screens.shot(page, "1-check")
    assert scalar(engine, "SELECT count(*) FROM membership.member") == 0

    # map the column by hand and check again: the file rides along, no second choosing
    unknown.select_option("phone")
    page.click("#check-button")
    assert "+79123456789" in page.locator("#preview tbody tr").first.inner_text()
    assert scalar(engine, "SELECT field FROM membership.import_mapping WHERE org_id = 5 "
                          "AND header = 'моб. связь'") == "phone"
    screens.shot(page, "2-mapped")

    # load: refused as a whole (a row has errors); the refused rows come back as a file
    page.click("#load-button")
    report = page.locator("#report")
    assert "Файл не загружен" in report.inner_text()
    href = page.locator("#errors-file").get_attribute("href")
    body = page.request.get(base + href).body()
    rows = list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
    assert rows[0][0] == "Строка" and rows[0][-1] == "Ошибка"
    assert rows[1][0] == 4 and "СНИЛС" in rows[1][-1] and "космонавт" in rows[1][-1]
    screens.shot(page, "3-report")

    # the import stays listed with its report; loading the good row when asked
    assert page.locator("#history tbody tr").count() == 1
    page.check("input[name=load_good_rows]")
    page.click("#load-button")
    assert page.locator("#report tr", has_text="Поставлено на учёт").locator(
        "td.num").inner_text() == "1"
    assert scalar(engine, "SELECT phone FROM membership.member") == "+79123456789"
    page.locator("#history a", has_text="список.csv").first.click()
    assert "Загрузка список.csv" in page.locator("h1").inner_text()
