"""Local host for the Harvest Functions app: HTTP routes, Durable orchestrations and timers."""
