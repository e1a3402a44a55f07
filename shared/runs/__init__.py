"""Operating runs: the run index (listing), live views, stats, control and retention of run records."""
