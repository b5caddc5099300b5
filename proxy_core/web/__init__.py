"""The pages the proxy serves to a person: the dashboard (static files, no build step)."""
