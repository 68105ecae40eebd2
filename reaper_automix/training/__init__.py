"""Training of the shipped models (never run in CI; tests use tiny configurations)."""
