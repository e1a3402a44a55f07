"""The Functions app: builds the DFApp and registers the blueprints. No logic lives here."""

import azure.durable_functions as df
import azure.functions as func

from activities import index, lifecycle, maintenance, operate, stages
from orchestrators import batches, compact, run, source, sources
from triggers import daily, health, openapi, run_control, run_history, runs, stats
from triggers import maintenance as maintenance_routes
from triggers import sources as source_routes

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (runs.bp, daily.bp, maintenance_routes.bp, run.bp, sources.bp, source.bp, batches.bp, compact.bp,
                  lifecycle.bp, stages.bp, maintenance.bp, operate.bp, run_history.bp, run_control.bp, stats.bp,
                  source_routes.bp, health.bp, openapi.bp, index.bp):
    app.register_functions(blueprint)
