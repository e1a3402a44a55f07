"""The Functions app: builds the DFApp and registers the blueprints. No logic lives here."""

import azure.durable_functions as df
import azure.functions as func

from activities import lifecycle, stages
from orchestrators import run, source
from triggers import daily, runs

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (runs.bp, daily.bp, run.bp, source.bp, lifecycle.bp, stages.bp):
    app.register_functions(blueprint)
