"""The Russian words for a card's statuses, apart from lifecycle.py: the gateway imports these
without the database code behind."""

STATUS_TITLES = {
    "requested": "Заказана", "batched": "Передана в производство", "produced": "Изготовлена",
    "delivered": "Доставлена в организацию", "issued": "Выдана", "refused": "Отказ",
    "virtual": "Виртуальная",
}
