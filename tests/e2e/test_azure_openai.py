"""A whole run with ``HARVEST_EMBEDDER=azure-openai`` against the local Azure OpenAI fake.

The settings are exactly what an Azure deployment sets (endpoint, deployment, model, dimensions), except
the credential: no Entra ID here, so the key path (``HARVEST_AZURE_OPENAI_API_KEY_SETTING``) is used.
"""

from __future__ import annotations

import json

from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import DOCS, write_docs
from tests.shared.embedding.fake_aoai import FakeAzureOpenAI

KEY = "local-test-key-9f2c"


def test_a_run_with_azure_openai_embeddings(workspace: Workspace) -> None:
    write_docs(workspace.docs)
    with FakeAzureOpenAI(api_key=KEY) as fake:
        workspace.env.update({
            "HARVEST_EMBEDDER": "azure-openai",
            "HARVEST_AZURE_OPENAI_ENDPOINT": fake.endpoint,
            "HARVEST_AZURE_OPENAI_DEPLOYMENT": fake.deployment,
            "HARVEST_AZURE_OPENAI_DIMENSIONS": "256",
            "HARVEST_AZURE_OPENAI_API_KEY_SETTING": "TEST_AOAI_KEY",
            "TEST_AOAI_KEY": KEY,
        })
        done = workspace.harvest("run", "--json")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        counts = summary["sources"]["notes"]["counts"]
        assert summary["status"] == "completed" and counts["added"] == len(DOCS)
        assert counts["chunks_embedded"] == sum(len(r.inputs) for r in fake.requests)
        assert all(r.status == 200 and r.auth == "api-key" and r.dimensions == 256 for r in fake.requests)

        rows = [json.loads(line) for line in workspace.harvest("export").stdout.splitlines()]
        assert rows and {r["model"] for r in rows} == {"azure-openai/text-embedding-3-small@256"}
        assert all(len(r["vector"]) == 256 for r in rows)
        hits = json.loads(workspace.harvest("query", "spring tides at new and full moon", "--json").stdout)
        assert hits[0]["doc_id"] == "tides.md"

    logs = done.stdout + done.stderr + workspace.log()
    assert KEY not in logs
