"""The Russian words for events' codes, apart from events.py: the gateway and the
announcements import these without the database code behind."""

KINDS = {"webinar": "Вебинар", "seminar": "Семинар", "contest": "Конкурс", "forum": "Форум",
         "training": "Обучение в учебном центре Профсоюза", "meeting": "Встреча с членами",
         "other": "Другое"}
STATUS_TITLES = {"registered": "Зарегистрирован", "waiting": "В листе ожидания",
                 "offered": "Место предложено, ждёт подтверждения", "cancelled": "Отменил",
                 "expired": "Не подтвердил вовремя"}
