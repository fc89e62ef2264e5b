import pytest


@pytest.fixture
def private_mailpit(tmp_path, monkeypatch):
    """A Mailpit of the test's own (it refuses @bounce… addresses) that notify sends to."""
    from tests.notify.private_mailpit import PrivateMailpit

    server = PrivateMailpit(tmp_path)
    server.start()
    monkeypatch.setenv("SMTP_PORT", str(server.smtp_port))
    yield server
    server.stop()
