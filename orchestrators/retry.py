"""The retry policy every activity call uses (transient errors: timeouts, 429, 5xx, storage hiccups)."""

import azure.durable_functions as df

ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=4)
