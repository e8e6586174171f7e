"""sync-log settings that change what it serves."""

import pytest
from pydantic import ValidationError

from sync_log.config import Settings


def test_the_console_url_is_absolute_or_empty() -> None:
    assert Settings().console_url == ""
    assert Settings(console_url="https://ops.example/app/").console_url == "https://ops.example/app"
    with pytest.raises(ValidationError, match="absolute"):
        Settings(console_url="ops.example")
