"""The whole stack, started the way ``make run`` starts it (``running_stack``), on free ports,
its own topics and databases, over the session's Kafka and MongoDB — once per session for the
seed-case tests, which drive it over HTTP only."""

import uuid
from collections.abc import Iterator

import pytest

from local_infra.demo import Demo
from local_infra.stack import Stack, running_stack
from tests.support.stack import stack_settings


@pytest.fixture(scope="session")
def e2e_stack(
    kafka_bootstrap: str, mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One running stack for the session."""
    unique = f"t_e2e_{uuid.uuid4().hex[:8]}"
    settings = stack_settings(kafka_bootstrap, mongodb_uri, unique, tmp_path_factory.mktemp("run"))
    with running_stack(settings, lambda name, line: None) as stack:
        yield stack


@pytest.fixture
def demo(e2e_stack: Stack, request: pytest.FixtureRequest) -> Demo:
    """The demo driver over the session's stack, with ids no other test uses."""
    dead = e2e_stack.dead()
    assert dead is None, f"{dead.name} died:\n" + "\n".join(dead.tail)
    return Demo.from_settings(
        e2e_stack.settings,
        run=f"{request.node.name[5:17]}_{uuid.uuid4().hex[:6]}",
        tenant_id=e2e_stack.tenant_id,
        timeout_s=60.0,
    )
