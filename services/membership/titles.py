"""The Russian words for membership's codes that pages show, apart from the code that uses
them: the gateway imports these without the domain modules (and their libraries) behind."""

APPLICATION_STATUS_TITLES = {"submitted": "на рассмотрении", "accepted": "принято",
                             "declined": "отклонено", "expired": "не рассмотрено в срок"}
