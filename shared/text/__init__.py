"""From a document to text and chunks: extraction (HTML, PDF, Markdown, text), nesting limits, chunking in
the embedder's tokens, content validation."""
