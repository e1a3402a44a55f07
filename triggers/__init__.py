"""HTTP routes and the daily timer: parse, validate, start or query, respond. No pipeline logic here."""
