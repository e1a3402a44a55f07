"""A failure's reason as run records, the API, reports and the CLI show it (``shared.errors.failure_reason``)."""

from __future__ import annotations

import pytest

from shared.errors import failure_reason


@pytest.mark.parametrize(("raw", "shown"), [
    # the Durable SDK's "Reason \n Details" (Details: the stack), and the host's wording of a failed activity
    ("Activity function 'discover' failed: TransientError: GET https://x.invalid/feed: cannot reach x.invalid "
     "\n Traceback (most recent call last):\n  File ...",
     "discover: GET https://x.invalid/feed: cannot reach x.invalid"),
    ("Activity function 'prepare' failed: shared.errors.PermanentError: refused", "prepare: refused"),
    ("Orchestrator function 'batch_lane' failed: boom\n  Stack: at ...",
     "Orchestrator function 'batch_lane' failed: boom"),
    ("operator said stop \n None", "operator said stop"),
    ("a   reason\nover   lines", "a reason over lines"),
])
def test_a_reason_is_one_line_in_words(raw: str, shown: str) -> None:
    assert failure_reason(raw) == shown
    assert failure_reason(RuntimeError(raw)) == shown


def test_a_reason_is_bounded_and_never_empty() -> None:
    assert len(failure_reason("x" * 5000)) == 500 and len(failure_reason("x" * 5000, 50)) == 50
    assert failure_reason(ValueError()) == "ValueError"
