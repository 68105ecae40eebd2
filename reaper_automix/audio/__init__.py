"""Audio I/O and the headless renderer."""
