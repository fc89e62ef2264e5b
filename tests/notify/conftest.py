import pytest

from tests.notify import mailpit


@pytest.fixture
def mailbox():
    """An empty test mailbox, and no chaos left behind."""
    mailpit.chaos(probability=0)
    mailpit.clear()
    yield mailpit
    mailpit.chaos(probability=0)
