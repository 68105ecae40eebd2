"""The worker process that does the numerical work for the REAPER actions.

``protocol`` and ``client`` are light (standard library only): the actions import them inside
REAPER. ``main`` runs in the configured worker Python, imports :mod:`reaper_automix.jobs` and runs
one job (``python -m reaper_automix.worker JOB_DIR``). See docs/reaper.md, "Worker protocol v1".
"""
