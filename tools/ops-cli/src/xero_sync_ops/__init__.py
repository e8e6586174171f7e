"""``xero-sync``: the operators' CLI. It talks to the services' HTTP APIs only."""
