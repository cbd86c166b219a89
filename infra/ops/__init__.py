"""Production operations commands (``make rotate-keys``, ``make replay-dlq``) and the deploy
environments of samconfig.toml they act on."""
