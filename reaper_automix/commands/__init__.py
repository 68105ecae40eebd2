"""Subcommands of the ``reaper-automix`` CLI: one module each, with register() and run()."""
