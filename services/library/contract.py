"""The library's public face: the names of its vocabulary with their Russian titles, which the
gateway and the portal import. Nothing else of the service is imported from outside it."""

KINDS: dict[str, str] = {
    "document": "Документ",
    "presentation": "Презентация",
    "video": "Видеозапись",
    "link": "Ссылка",
}
# whom a material is for
AUDIENCES: dict[str, str] = {
    "chairs": "Председатели",
    "staff": "Аппарат организаций",
    "activists": "Профсоюзный актив",
    "legal_inspectors": "Правовые инспекторы труда",
    "members": "Все члены Профсоюза",
}
# the levels of the organizations a material is for (none named: every level)
LEVELS: dict[str, str] = {
    "central": "Центральный Совет",
    "regional": "Региональные организации",
    "territorial": "Территориальные организации",
    "primary": "Первичные организации",
    "subdivision": "Профгруппы и подразделения",
}
STATUSES: dict[str, str] = {"published": "Опубликован", "retired": "Снят с публикации"}
EDITION_STATES: dict[str, str] = {
    "current": "Действующая редакция",
    "superseded": "Утратила силу",
    "future": "Вступит в силу",
}
TEXT_STATES: dict[str, str] = {
    "extracted": "Текст извлечён",
    "empty": "Текста в файле нет (скан?)",
    "failed": "Текст не извлечён: файл повреждён",
    "none": "Без текста",
}
# files each kind takes, by the type their content shows (not their name)
FILE_TYPES: dict[str, dict[str, str]] = {
    "document": {"pdf": "application/pdf",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "pptx": "application/vnd.openxmlformats-officedocument.presentationml"
                         ".presentation"},
    "presentation": {"pptx": "application/vnd.openxmlformats-officedocument.presentationml"
                             ".presentation",
                     "pdf": "application/pdf"},
    "video": {"mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska",
              "mov": "video/quicktime"},
    "link": {},
}
