"""Evaluations of the actions, one module per action (``reaper-automix eval TARGET``): each runs
its protocol end to end on sessions and reports the figures docs/ quote."""
