"""The retry policy every activity call uses (transient errors: timeouts, 429, 5xx, storage hiccups), and the
one-line reason kept when a call still fails."""

import re

import azure.durable_functions as df

ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=4)

# Where the stack trace starts in a failure's text: the Durable SDK raises Exception(f"{Reason} \n {Details}")
# (Details is the stack), and the Python worker's own reasons carry "Stack:" / "Traceback" parts.
_STACK = re.compile(r" \n |\n\s*Stack:|Traceback \(most recent call last\)")


def failure_reason(failure: BaseException | str, limit: int = 500) -> str:
    """The reason of a failed activity or sub-orchestration on one line, without the stack trace (that stays
    in the host's log): what run records, the API and reports show."""
    text = _STACK.split(str(failure), maxsplit=1)[0]
    return " ".join(text.split())[:limit] or type(failure).__name__
