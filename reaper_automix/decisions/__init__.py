"""Pure mix decisions, one module per action: arrays and numbers in, settings out.

Nothing here knows about projects, hosts or REAPER; the jobs in :mod:`reaper_automix.jobs` render
a session and hand the audio to these functions.
"""
