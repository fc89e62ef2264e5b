import pytest

from tests.notify import mailpit


@pytest.fixture
def mailbox():
    """An empty test mailbox, and no chaos left behind."""
    mailpit.chaos(probability=0)
    mailpit.clear()
    yield mailpit
    mailpit.chaos(probability=0)


@pytest.fixture
def private_mailpit(tmp_path, monkeypatch):
    """A Mailpit of the test's own that notify sends to while the test runs."""
    from tests.notify.private_mailpit import PrivateMailpit

    server = PrivateMailpit(tmp_path)
    server.start()
    monkeypatch.setenv("SMTP_PORT", str(server.smtp_port))
    yield server
    server.stop()
