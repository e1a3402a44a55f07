"""One run through the real stack (`harvest run` → local host → orchestrators → Azurite) with one source of
every kind, each against a local server that speaks its protocol and demands credentials. Then prove that
no secret reached a log line or any blob the run wrote (corpus, state, run records, Durable history)."""

from __future__ import annotations

import json
import uuid

import pytest
from azure.storage.blob import BlobServiceClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from devhost.store import container_name_for
from tests.conftest import NETGUARD_SITE
from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import DOCS, write_docs
from tests.shared.sources.servers import (
    JsonApi,
    OaiRecord,
    OaiRepository,
    page_html,
    serve_json_api,
    serve_oai,
    urlset,
)

pytestmark = pytest.mark.slow

SECRETS = {
    "NEWS_API_TOKEN": "bearer-7d1f0c2a9e",
    "OAI_KEY": "apikey-51b8e3f4aa",
    "SITE_PASSWORD": "basicpw-c0ffee42",
    "FEED_CLIENT_SECRET": "client-secret-9a8b7c",
}
ACCESS_TOKEN = "access-token-3e4f5a6b"
TEXT = "The {} keeps its own records of tides, weather and ships that passed in the night."


def guarded(server: HTTPServer, path: str, check: tuple[str, str], body: str, ctype: str = "text/html") -> None:
    def handler(request: Request) -> Response:
        if request.headers.get(check[0]) != check[1]:
            return Response("unauthorized", status=401)
        return Response(body, content_type=ctype)

    server.expect_request(path).respond_with_handler(handler)


def build_servers(server: HTTPServer) -> dict[str, str]:
    """Every protocol on one local server; returns the URL of each source."""
    import base64

    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    # rss, with OAuth2 client credentials for the feed and its pages
    def token(request: Request) -> Response:
        if request.form.get("client_secret") != SECRETS["FEED_CLIENT_SECRET"]:
            return Response("bad client", status=401)
        return Response(json.dumps({"access_token": ACCESS_TOKEN, "expires_in": 600}), content_type="application/json")

    server.expect_request("/oauth/token", method="POST").respond_with_handler(token)
    bearer = ("Authorization", f"Bearer {ACCESS_TOKEN}")
    items = "".join(f"<item><title>Post {i}</title><link>{server.url_for(f'/news/{i}')}</link><guid>post-{i}</guid>"
                    f"<pubDate>Mon, 0{i} Jun 2026 10:00:00 GMT</pubDate></item>" for i in (1, 2, 3))
    guarded(server, "/news/feed.xml", bearer, f"<rss version='2.0'><channel><title>n</title>{items}</channel></rss>",
            "application/rss+xml")
    for i in (1, 2):
        guarded(server, f"/news/{i}", bearer, page_html(f"Post {i}", TEXT.format(f"newsroom {i}")))
    guarded(server, "/news/3", bearer, "<html><body><p>Soon.</p></body></html>")  # too short: skipped
    # oai_pmh with an API key header
    repo = OaiRepository([OaiRecord("oai:lib:1", "2026-06-01", "Harbour log", TEXT.format("harbour master")),
                          OaiRecord("oai:lib:2", "2026-06-02", "Lamp log", TEXT.format("lamp keeper"))],
                         required_header=("X-API-Key", SECRETS["OAI_KEY"]))
    # sitemap with basic auth
    basic = ("Authorization", "Basic " + base64.b64encode(f"reader:{SECRETS['SITE_PASSWORD']}".encode()).decode())
    pages = [(server.url_for(f"/site/{name}"), "2026-06-0" + str(i + 1)) for i, name in enumerate(("a", "b"))]
    guarded(server, "/site/sitemap.xml", basic, urlset(pages), "application/xml")
    for name in ("a", "b"):
        guarded(server, f"/site/{name}", basic, page_html(f"Site {name}", TEXT.format(f"site page {name}")))
    # json_api with a bearer token (cursor paging, text inline)
    api = JsonApi([{"id": i, "title": f"Item {i}", "body": TEXT.format(f"api item {i}"),
                    "updated_at": f"2026-06-0{i}T00:00:00Z"} for i in (1, 2, 3)], style="cursor", size=2,
                  required_header=("Authorization", f"Bearer {SECRETS['NEWS_API_TOKEN']}"))
    return {"rss": server.url_for("/news/feed.xml"), "oai": serve_oai(server, repo),
            "sitemap": server.url_for("/site/sitemap.xml"), "api": serve_json_api(server, api)}


def manifest(urls: dict[str, str], container: str) -> str:
    return f"""sources:
  - {{id: notes, kind: folder, path: docs}}
  - id: news
    kind: rss
    url: {urls['rss']}
    auth: {{type: oauth2_client_credentials, token_url: "{urls['rss'].replace('/news/feed.xml', '/oauth/token')}",
            client_id: harvest, client_secret_setting: FEED_CLIENT_SECRET}}
  - id: library
    kind: oai_pmh
    url: {urls['oai']}
    auth: {{type: api_key, key_setting: OAI_KEY, header: X-API-Key}}
  - id: site
    kind: sitemap
    url: {urls['sitemap']}
    auth: {{type: basic, username: reader, password_setting: SITE_PASSWORD}}
  - id: items
    kind: json_api
    url: {urls['api']}
    items: data.items
    fields: {{id: id, title: title, text: body, updated: updated_at}}
    paging: {{style: cursor, field: meta.next}}
    auth: {{type: bearer, token_setting: NEWS_API_TOKEN}}
    rate_limit: 50
  - id: archive
    kind: blob
    container: {container}
    prefix: docs/
    connection_setting: HARVEST_TEST_ARCHIVE
"""


def test_one_source_of_each_kind_and_no_secret_anywhere(workspace: Workspace, httpserver: HTTPServer,
                                                        azurite: str) -> None:
    write_docs(workspace.docs, {"tides.md": DOCS["tides.md"]})
    archive = f"arch-{uuid.uuid4().hex[:10]}"
    service = BlobServiceClient.from_connection_string(azurite)
    box = service.create_container(archive)
    box.upload_blob("docs/ships.md", "# Ships\n\n" + TEXT.format("shipping office") + "\n")
    box.upload_blob("docs/gulls.txt", TEXT.format("gull counter"))
    workspace.manifest(manifest(build_servers(httpserver), archive))
    workspace.env.update(SECRETS)
    workspace.env.update(HARVEST_EMBEDDER="hashing", HARVEST_TEST_ARCHIVE=azurite,
                         PYTHONPATH=f"{NETGUARD_SITE}:{workspace.env['PYTHONPATH']}")

    done = workspace.harvest("run", "--json", "--verbose")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed"
    added = {sid: r["counts"]["added"] for sid, r in summary["sources"].items()}
    assert added == {"notes": 1, "news": 2, "library": 2, "site": 2, "items": 3, "archive": 2}, added
    assert summary["sources"]["news"]["counts"]["skipped_short"] == 1

    # A page that breaks later: the source (and the run) end partial, the stored version is untouched.
    httpserver.expect_oneshot_request("/news/1").respond_with_data("gone", status=410)  # wins once
    again = workspace.harvest("run", "--json", "--verbose", "--full-refresh", "--source", "news")
    assert again.returncode == 3, again.stderr[-3000:]
    second = json.loads(again.stdout)
    news = second["sources"]["news"]
    assert (second["status"], news["status"]) == ("partial", "partial")
    assert (news["counts"]["failed"], news["counts"]["unchanged"]) == (1, 1)
    assert "HTTP 410" in news["errors"][0]["reason"]
    exported = [json.loads(line) for line in workspace.harvest("export", "--source", "news").stdout.splitlines()]
    assert {row["title"] for row in exported} == {"Post 1", "Post 2"}
    for out in (done, again):
        assert "NETWORK GUARD" not in out.stderr

    # Every log line and every blob of both runs: no secret value, no derived token.
    needles = [*SECRETS.values(), ACCESS_TOKEN]
    logs = done.stdout + done.stderr + again.stdout + again.stderr
    assert logs.count("\n") > 20  # verbose logging really ran
    for needle in needles:
        assert needle not in logs, needle
    hub = container_name_for(workspace.env["HARVEST_TASK_HUB"])
    scanned, control = 0, 0
    for name in (workspace.env["HARVEST_CONTAINER"], hub):
        container = service.get_container_client(name)
        for blob in container.list_blobs():
            data = container.download_blob(blob.name).readall()
            scanned += 1
            control += b"harbour master" in data  # the scan really reads what the run wrote
            for needle in needles:
                assert needle.encode() not in data, (needle, name, blob.name)
    assert scanned > 30 and control > 0
    service.delete_container(archive)
