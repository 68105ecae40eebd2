"""Evaluations behind ``reaper-automix eval TARGET``: one module per target."""
