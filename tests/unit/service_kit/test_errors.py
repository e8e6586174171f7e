"""Adapters translate their library's outages into RetryLater, and nothing else."""

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, PyMongoError

from service_kit.errors import RetryLater, retry_later_on


class StoreDown(RetryLater):
    pass


@retry_later_on(PyMongoError, as_=StoreDown)
class Store:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def read(self) -> str:
        raise self.error

    async def insert(self) -> bool:
        try:
            raise DuplicateKeyError("E11000")
        except DuplicateKeyError:  # caught inside: a result, not an outage
            return False


async def test_a_decorated_adapter_raises_retry_later_with_the_cause() -> None:
    with pytest.raises(StoreDown) as caught:
        await Store(AutoReconnect("gone")).read()
    assert isinstance(caught.value.__cause__, AutoReconnect)


async def test_errors_the_adapter_handles_or_does_not_name_pass_through() -> None:
    assert await Store(ValueError()).insert() is False
    with pytest.raises(ValueError, match="a bug"):
        await Store(ValueError("a bug")).read()


def test_the_block_form_translates_the_outages_by_default() -> None:
    with pytest.raises(RetryLater), retry_later_on():
        raise TimeoutError("slow")
