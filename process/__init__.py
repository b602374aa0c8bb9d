"""What every extdns process shares: settings, logs, metrics, the health endpoint, its clients, the CLI."""
