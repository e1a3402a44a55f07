"""Negative control: one activity annotated ``dict[str, Any]``, which Azure's worker refuses to load."""

from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="payload")
def echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload
