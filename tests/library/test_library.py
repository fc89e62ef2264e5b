"""The library against the real services, PostgreSQL, RabbitMQ, Keycloak and the object store:
publishing, search in Russian, access on the file, Range, editions in force, bad input."""

import os

import pytest
import requests

from tests.library import files

# tests.factories.build_tree's ids in an emptied registry
CENTRAL, REGION, REGION2, PRIMARY, PRIMARY2 = 1, 2, 3, 5, 9


def material(api, status: int = 201, **fields):
    body = {"kind": "document", "title": "Положение о членских взносах",
            "description": "Порядок уплаты и учёта", "topics": ["взносы", "финансы"],
            "audiences": ["chairs", "staff"], "publisher_org_id": CENTRAL, **fields}
    r = api.post("/api/v1/library/materials", json=body)
    assert r.status_code == status, r.text
    return r.json()


def upload(api, material_id: int, content: bytes, filename: str, effective_on: str,
           status: int = 201, **extra):
    r = api.post(f"/api/v1/library/materials/{material_id}/editions",
                 files={"file": (filename, content)},
                 data={"effective_on": effective_on, **extra})
    assert r.status_code == status, r.text
    return r.json()


def search(api, q: str, **params) -> list[int]:
    r = api.get("/api/v1/library/materials", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


@pytest.fixture
def doc(api, tree):
    m = material(api)
    edition = upload(api, m["id"], files.pdf("Члены профсоюза уплачивают ежемесячно 1 % "
                                             "членских взносов", pages=2),
                     "polozhenie.pdf", "2024-01-01")
    assert edition["text_status"] == "extracted" and edition["pages"] == 2
    return m


def test_a_word_form_not_in_the_text_finds_it_ranked_with_a_snippet(api, doc):
    other = material(api, title="Памятка председателю", description="О собраниях", topics=[])
    upload(api, other["id"], files.docx("Собрание созывается раз в год"), "pamyatka.docx",
           "2024-01-01")
    r = api.get("/api/v1/library/materials", params={"q": "взносы"})
    body = r.json()
    assert [i["id"] for i in body["items"]] == [doc["id"]]
    assert "«" in body["items"][0]["snippet"] and body["items"][0]["rank"] > 0
    # «ежемесячный» is only in the file's text, in another form
    assert search(api, "ежемесячный") == [doc["id"]]
    assert search(api, "собраний") == [other["id"]]
    assert search(api, "взносы", kind="video") == []
    assert search(api, "", topic="финансы") == [doc["id"]]
    assert search(api, "", audience="members") == []


def test_download_as_entitled_and_not_and_the_bare_object_refused(api, doc, engine):
    from sqlalchemy import text

    content = api.as_user("chair").get(f"/api/v1/library/materials/{doc['id']}/file")
    assert content.status_code == 200
    assert content.content.startswith(b"%PDF")
    assert content.headers["Cache-Control"] == "private, no-store"
    # a member is not among the audience: the material does not exist for them
    for user in ("member", "nobody"):
        refused = api.as_user(user).get(f"/api/v1/library/materials/{doc['id']}/file")
        assert refused.status_code in (403, 404), refused.text
        assert refused.status_code != 200
    assert api.as_user("member").get(f"/api/v1/library/materials/{doc['id']}").status_code \
        == 404
    assert api.as_user(None).get(f"/api/v1/library/materials/{doc['id']}/file"
                                 ).status_code == 401
    with engine.connect() as c:
        key = c.execute(text("SELECT object_key FROM library.edition")).scalar_one()
    bucket = os.environ["LIBRARY_BUCKET"]
    bare = requests.get(f"{os.environ['S3_ENDPOINT']}/{bucket}/{key}", timeout=10)
    assert bare.status_code == 403
    listing = requests.get(f"{os.environ['S3_ENDPOINT']}/{bucket}", timeout=10)
    assert listing.status_code == 403


def test_a_presigned_link_dies_and_is_never_given_out(api, doc, rpc):
    import time

    from services.library.storage import Bucket

    r = api.as_user("chair").get(f"/api/v1/library/materials/{doc['id']}")
    assert "X-Amz-Signature" not in r.text and "object_key" not in r.text
    assert os.environ["LIBRARY_BUCKET"] not in r.text
    # the link the service makes for one request is dead a moment later
    link = rpc.library.open_file(doc["id"])["url"]
    assert requests.get(link, timeout=10).status_code == 200
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIBRARY_LINK_TTL_S", "1")
        short = Bucket().link_get(link.split("?")[0].split(os.environ["LIBRARY_BUCKET"] + "/")[1])
    time.sleep(2.5)
    assert requests.get(short, timeout=10).status_code == 403


def test_a_video_seeks_with_range(api, tree):
    video = material(api, kind="video", title="Вебинар: коллективный договор",
                     audiences=["chairs"], topics=["вебинар"])
    content = files.mp4(3 * 1024 * 1024 + 17)
    edition = upload(api, video["id"], content, "webinar.mp4", "2025-03-01")
    assert edition["media_type"] == "video/mp4" and edition["text_status"] == "none"
    chair = api.as_user("chair")
    part = chair.get(f"/api/v1/library/materials/{video['id']}/file",
                     headers={"Range": "bytes=1000000-1000999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000000-1000999/{len(content)}"
    assert part.content == content[1000000:1001000]
    assert part.headers["Accept-Ranges"] == "bytes"
    assert part.headers["Content-Disposition"].startswith("inline")
    tail = chair.get(f"/api/v1/library/materials/{video['id']}/file",
                     headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == content[-10:]
    beyond = chair.get(f"/api/v1/library/materials/{video['id']}/file",
                       headers={"Range": f"bytes={len(content) + 5}-"})
    assert beyond.status_code == 416
    whole = chair.get(f"/api/v1/library/materials/{video['id']}/file")
    assert whole.status_code == 200 and whole.content == content


def test_editions_in_force_on_a_date(api, doc):
    second = upload(api, doc["id"], files.pdf("Новая редакция: взносы 1,5 %"), "v2.pdf",
                    "2025-07-01", note="Постановление № 5")
    future = upload(api, doc["id"], files.pdf("Редакция будущего года"), "v3.pdf", "2099-01-01")
    got = api.get(f"/api/v1/library/materials/{doc['id']}", params={"on": "2024-06-01"}).json()
    states = {e["number"]: e["state"] for e in got["editions"]}
    assert states == {1: "superseded", 2: "current", 3: "future"}
    assert got["in_force"] == got["editions"][0]["id"]
    assert api.get(f"/api/v1/library/materials/{doc['id']}",
                   params={"on": "2025-07-01"}).json()["in_force"] == second["id"]
    assert api.get(f"/api/v1/library/materials/{doc['id']}",
                   params={"on": "2023-12-31"}).json()["in_force"] is None
    assert second["supersedes_id"] == got["editions"][0]["id"]
    assert future["supersedes_id"] == second["id"]
    # the older edition stays readable
    old = api.as_user("chair").get(f"/api/v1/library/materials/{doc['id']}/file",
                                   params={"edition_id": got["editions"][0]["id"]})
    assert old.status_code == 200 and old.content.startswith(b"%PDF")
    # and what is downloaded by default is today's
    today = api.as_user("chair").get(f"/api/v1/library/materials/{doc['id']}/file")
    assert "v2.pdf" in today.headers["Content-Disposition"]
    history = api.get(f"/api/v1/library/materials/{doc['id']}/history").json()
    assert [h["action"] for h in history] == ["created", "edition_added", "edition_added",
                                              "edition_added"]


def test_an_edition_dated_before_the_one_it_supersedes_is_refused(api, doc, engine):
    from sqlalchemy import text

    r = upload(api, doc["id"], files.pdf("Старая"), "old.pdf", "2023-05-01", status=422)
    assert r["error"]["code"] == "edition_date_before"
    assert "позже заменяемой" in r["error"]["details"][0]["message"]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM library.edition")).scalar() == 1
        # the refused file is not left in the bucket's slots
        assert c.execute(text("SELECT count(*) FROM library.upload WHERE used_at IS NULL")
                         ).scalar() == 0


def test_bad_files(api, tree, engine):
    from sqlalchemy import text

    m = material(api, title="Проверка файлов")
    # a DOCX named .pdf: content decides, and the name does not match it
    r = upload(api, m["id"], files.docx("текст"), "fake.pdf", "2024-01-01", status=422)
    assert r["error"]["code"] == "file_type_mismatch"
    # a text file is no document of any kind
    r = upload(api, m["id"], "просто текст".encode() * 100, "note.docx", "2024-01-01",
               status=422)
    assert r["error"]["code"] == "file_type"
    assert "неизвестного типа" in r["error"]["details"][0]["message"]
    # a video is not a document
    r = upload(api, m["id"], files.mp4(10_000), "clip.mp4", "2024-01-01", status=422)
    assert r["error"]["code"] == "file_type"
    # no date: the file is not kept
    r = upload(api, m["id"], files.pdf("x"), "nodate.pdf", "", status=422)
    assert r["error"]["details"][0]["field"] == "effective_on"
    # an empty file
    r = upload(api, m["id"], b"", "empty.pdf", "2024-01-01", status=422)
    assert r["error"]["code"] == "file_empty"
    # a broken PDF is kept, its text marked as not extracted
    broken = upload(api, m["id"], b"%PDF-1.7\n" + b"\x00garbage" * 500, "broken.pdf",
                    "2024-01-01")
    assert broken["text_status"] == "failed"
    assert broken["text_status_title"].startswith("Текст не извлечён")
    # a scan without text: kept, text empty
    scan = upload(api, m["id"], files.scanned_pdf(), "scan.pdf", "2024-02-01")
    assert scan["text_status"] == "empty"
    assert api.as_user("chair").get(f"/api/v1/library/materials/{m['id']}/file"
                                    ).status_code == 200
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM library.edition")).scalar() == 2


def test_a_file_over_the_limit_is_refused_before_it_is_read(api, tree, monkeypatch):
    m = material(api, title="Большой файл")
    monkeypatch.setenv("LIBRARY_MAX_DOCUMENT_MB", "1")
    r = upload(api, m["id"], files.pdf("x") + b"\x00" * (2 * 1024 * 1024), "big.pdf",
               "2024-01-01", status=422)
    assert r["error"]["code"] == "file_too_large"
    assert "не больше 1 МБ" in r["error"]["details"][0]["message"]


def test_publishing_rights_and_audiences(api, tree):
    regional = api.as_user("regional")
    # regional staff publish for their region, never federally nor for another region
    own = material(regional, publisher_org_id=REGION, title="Пермский край: взносы")
    assert own["region_id"] == REGION
    r = material(regional, status=403, publisher_org_id=REGION, region_id=None)
    assert r["error"]["code"] == "library_audience_forbidden"
    r = material(regional, status=403, publisher_org_id=REGION, region_id=REGION2)
    assert r["error"]["code"] == "library_audience_forbidden"
    r = material(regional, status=403, publisher_org_id=PRIMARY2)
    assert r["error"]["code"] == "library_publisher_outside"
    for user in ("chair", "member"):
        r = material(api.as_user(user), status=403)
        assert r["error"]["code"] == "library_publish_forbidden"
    # the Central Council publishes in its own name unless it names another
    assert material(api, publisher_org_id=None, title="Устав", description="", topics=[]
                    )["publisher_org_id"] == CENTRAL
    r = material(api, status=422, audiences=["everyone"])
    assert r["error"]["details"][0]["field"] == "audiences"
    # the region's material: its chair sees it, the other region's does not
    upload(regional, own["id"], files.pdf("Региональные взносы"), "perm.pdf", "2024-01-01")
    assert search(api.as_user("chair"), "взносы") == [own["id"]]
    assert search(api.as_user("chair2"), "взносы") == []
    assert api.as_user("chair2").get(f"/api/v1/library/materials/{own['id']}/file"
                                     ).status_code == 404
    # a regional addition to a federal material shows under it, to that region
    federal = material(api, title="Федеральный порядок")
    addition = material(regional, publisher_org_id=REGION, addition_to=federal["id"],
                        title="Дополнение Пермского края")
    seen = api.as_user("chair").get(f"/api/v1/library/materials/{federal['id']}").json()
    assert [a["id"] for a in seen["additions"]] == [addition["id"]]
    assert api.as_user("chair2").get(
        f"/api/v1/library/materials/{federal['id']}").json()["additions"] == []
    # regional staff may not change a federal material; the Central Council retires it
    r = regional.patch(f"/api/v1/library/materials/{federal['id']}", json={"title": "Иное"})
    assert r.status_code == 403
    assert api.post(f"/api/v1/library/materials/{federal['id']}/retire",
                    json={}).json()["status"] == "retired"
    assert api.as_user("chair").get(f"/api/v1/library/materials/{federal['id']}"
                                    ).status_code == 404


def test_usage_counts_views_and_downloads_by_place(api, doc):
    chair = api.as_user("chair")
    unread = material(api, title="Никто не открывал")
    chair.get(f"/api/v1/library/materials/{doc['id']}")
    chair.get(f"/api/v1/library/materials/{doc['id']}/file")
    chair.get(f"/api/v1/library/materials/{doc['id']}/file", headers={"Range": "bytes=10-20"})
    figures = api.get("/api/v1/library/usage").json()
    top = figures["most_read"][0]
    assert (top["id"], top["views"], top["downloads"]) == (doc["id"], 1, 1)
    assert {"region_id": REGION, "org_level": "primary", "views": 1, "downloads": 1} \
        in figures["by_place"]
    assert unread["id"] in [m["id"] for m in figures["never_opened"]]
    assert doc["id"] not in [m["id"] for m in figures["never_opened"]]
    assert api.as_user("chair").get("/api/v1/library/usage").status_code == 403
