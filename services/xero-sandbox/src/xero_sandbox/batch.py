"""The outcome of one element of a PUT/POST batch, and the ``summarizeErrors`` rule."""

from __future__ import annotations

from dataclasses import dataclass

from .xero_json import JsonDict, validation_exception


@dataclass(slots=True)
class ElementResult:
    ok: bool
    body: JsonDict  # the saved resource, or the element echoed with its ValidationErrors


def dedupe(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def error_echo(element: JsonDict, messages: list[str], error_flag: str) -> JsonDict:
    """The element as Xero echoes a failed one: its data plus the messages."""
    echo = dict(element)
    echo[error_flag] = True
    echo["StatusAttributeString"] = "ERROR"
    echo["ValidationErrors"] = [{"Message": message} for message in dedupe(messages)]
    return echo


def batch_response(
    results: list[ElementResult], summarize_errors: bool
) -> tuple[int, list[JsonDict] | JsonDict]:
    """Xero's rule: with ``summarizeErrors=false`` every element comes back with a 200; else
    one failure makes it a 400 listing only the failed elements (the others are saved)."""
    if not summarize_errors or all(result.ok for result in results):
        return 200, [result.body for result in results]
    failed = [result.body for result in results if not result.ok]
    return 400, validation_exception(failed)
