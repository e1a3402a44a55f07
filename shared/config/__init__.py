"""What configures a run: the source manifest (parsing, checks, YAML loading), field-level messages for
every validated input, bounded JSON input."""
