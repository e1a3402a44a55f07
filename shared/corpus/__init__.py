"""Reading the corpus, retiring a source's documents, verifying the corpus against its records."""
