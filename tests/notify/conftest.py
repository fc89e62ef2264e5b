import pytest

from tests.notify import mailpit


@pytest.fixture
def mailbox():
    """The shared test Mailpit, emptied (its chaos is left alone: the private one has it)."""
    mailpit.clear()
    return mailpit


@pytest.fixture
def private_mailpit(tmp_path, monkeypatch):
    """A Mailpit of the test's own that notify sends to while the test runs."""
    from tests.notify.private_mailpit import PrivateMailpit

    server = PrivateMailpit(tmp_path)
    server.start()
    monkeypatch.setenv("SMTP_PORT", str(server.smtp_port))
    yield server
    server.stop()
