"""Positive twin of bad_annotation: the same activity annotated with a typing generic loads."""

import typing
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="payload")
def echo(payload: typing.Dict[str, Any]) -> dict[str, Any]:  # noqa: UP006 - the worker needs a typing generic
    return payload
