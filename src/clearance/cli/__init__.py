"""The `clearance` command: thin commands over the services, one module per noun."""
