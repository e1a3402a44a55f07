"""Short, distinct documents for end-to-end runs (few chunks: the real model embeds ~4 chunks/s here)."""

DOCS = {
    "tides.md": "# Tides\n\nTides rise and fall twice a day because the Moon's gravity pulls the oceans into "
    "two bulges. Spring tides come at new and full moon, when Sun and Moon pull together; neap tides come "
    "at the quarter moons.\n",
    "sourdough.md": "# Sourdough\n\nA sourdough starter is a culture of wild yeast and lactic acid bacteria. "
    "Fed with flour and water, the bacteria make the bread sour while the yeast makes it rise.\n",
    "rainbows.txt": "Rainbows appear when sunlight is refracted, reflected and dispersed inside raindrops. "
    "Red light bends least and violet most, so the colours fan out at about forty-two degrees.\n",
    "compost.html": "<html><head><title>Composting</title></head><body><nav><a href='/'>Home</a> | "
    "<a href='/about'>About</a></nav><article><h1>Composting</h1><p>A compost heap needs a balance of "
    "green nitrogen-rich material and brown carbon-rich material. Turning the heap adds oxygen so the "
    "microbes that break down the waste can work quickly and the heap heats up.</p></article>"
    "<footer>Copyright the garden club</footer></body></html>",
}


def write_docs(folder, docs=DOCS) -> None:  # type: ignore[no-untyped-def]
    for name, text in docs.items():
        (folder / name).write_text(text)
