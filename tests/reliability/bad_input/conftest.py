"""A whole stack as ``make run`` starts it (``running_stack``), one per test module that asks
for it, on free ports, its own topics and databases over the session's Kafka and MongoDB: the
fuzzing of one module never leaks into another's stack."""

import uuid
from collections.abc import Iterator

import pytest

from local_infra.demo import Demo
from local_infra.stack import Stack, running_stack
from tests.support.stack import stack_settings


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    unique = f"t_bad_{uuid.uuid4().hex[:8]}"
    settings = stack_settings(kafka_bootstrap, mongodb_uri, unique, tmp_path_factory.mktemp("run"))
    with running_stack(settings, lambda name, line: None) as running:
        yield running


@pytest.fixture
def demo(stack: Stack) -> Demo:
    """The demo driver over the module's stack (its organisation is connected and mapped)."""
    dead = stack.dead()
    assert dead is None, f"{dead.name} died:\n" + "\n".join(dead.tail)
    return Demo.from_settings(
        stack.settings, run=uuid.uuid4().hex[:8], tenant_id=stack.tenant_id, timeout_s=90.0
    )
