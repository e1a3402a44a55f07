"""Issue 12 item 3: extraction has bounded cost. 100,000 nested ``<div>``s (1.1 MB) took 97 s; now such a
document fails at once, permanently, with a reason that says why (the reason is asserted, not a time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import PermanentError
from shared.pipeline.context import Context
from shared.storage import records
from shared.text.extract import ExtractLimits, extract
from shared.text.html_depth import nesting_depth
from tests.shared.pipeline.hosted import RunSource

BOMB = ("<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>").encode()
TEXT = "Lighthouses once used whale oil lamps, then kerosene, then electric arcs, then LEDs. " * 3


def test_deep_nesting_fails_with_the_reason() -> None:
    with pytest.raises(PermanentError, match="html nesting deeper than 1000"):
        extract(BOMB, fmt="html")
    with pytest.raises(PermanentError, match="html nesting deeper than 50"):
        extract(BOMB, fmt="html", limits=ExtractLimits(max_depth=50))


def test_an_oversized_document_fails_with_the_reason() -> None:
    with pytest.raises(PermanentError, match="document larger than 1000 bytes"):
        extract(b"x" * 1001, fmt="text", limits=ExtractLimits(max_bytes=1000))


def test_ordinary_pages_pass() -> None:
    page = f"<html><head><title>T</title></head><body>{'<div>' * 200}<p>{TEXT}</p>{'</div>' * 200}</body></html>"
    assert extract(page.encode(), fmt="html").text.startswith("Lighthouses")


@pytest.mark.parametrize(("html", "depth"), [
    ("<div><div></div><div><span>x</span></div></div>", 3),
    ("<p>one<p>two<p>three<ul><li>a<li>b</ul>", 1),  # optional end tags do not nest
    ("<div><br><img src=x><input><hr/></div>", 1),  # void elements
    ("<div><!-- <div><div><div> --><script>if (a<b) '<div><div>'</script></div></div>", 1),
    ("<div><!-- never closed <div><div>", 1),
    ("<DIV><Div></div></DIV>", 2),
])
def test_nesting_depth_estimate(html: str, depth: int) -> None:
    assert nesting_depth(html) == depth


async def test_a_bomb_in_a_folder_fails_that_document_only(run_source: RunSource, ctx: Context, docs: Path) -> None:
    (docs / "bomb.html").write_bytes(BOMB)
    (docs / "ok.md").write_text(f"# Fine\n\n{TEXT}\n")
    counts = await run_source(ctx, "run-1")
    assert (counts.added, counts.failed) == (1, 1)
    assert await records.read_doc(ctx.store, "notes", "ok.md") is not None
    assert await records.read_doc(ctx.store, "notes", "bomb.html") is None


async def test_extraction_past_the_time_limit_fails_that_document(ctx: Context, docs: Path) -> None:
    from shared.models import BatchRef, DiscoverInput
    from shared.pipeline import discover, fetch

    (docs / "page.html").write_text(f"<html><body><p>{TEXT}</p></body></html>")
    ctx.settings = ctx.settings.model_copy(update={"extract_timeout": 1e-9})
    found = await discover.discover(ctx, DiscoverInput(run_id="r", source_id="notes", page=0))
    result = await fetch.fetch(ctx, BatchRef(run_id="r", source_id="notes", batch_id=found.batches[0]))
    assert [(e.doc_id, e.reason, e.transient) for e in result.errors] == [
        ("page.html", "extraction took longer than 1e-09 s", False)]
