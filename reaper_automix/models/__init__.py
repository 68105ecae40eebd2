"""Networks shipped with reaper-automix, with their weights and model cards in docs/."""
