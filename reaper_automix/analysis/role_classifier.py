"""The audio role classifier: a track's role from :mod:`role_features`, when its name says none.

A small multilayer perceptron (one hidden layer) run in numpy: features standardised, ReLU,
softmax over the roles it was trained on. The weights ship in the package
(``role_classifier.json``, a few kilobytes) with their model card in docs/role-classifier.md;
``scripts/train_role_classifier.py`` reproduces them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .role_features import FEATURE_NAMES
from .roles import RoleGuess, check_role

WEIGHTS = Path(__file__).with_name("role_classifier.json")


@dataclass(frozen=True)
class RoleClassifier:
    roles: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    hidden_w: np.ndarray
    hidden_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray

    @classmethod
    def from_dict(cls, data: Mapping) -> RoleClassifier:
        if tuple(data["features"]) != FEATURE_NAMES:
            raise ValueError("the role classifier was trained on other features: retrain it "
                             "(scripts/train_role_classifier.py)")
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in
                  ("mean", "scale", "hidden_w", "hidden_b", "out_w", "out_b")}
        return cls(tuple(check_role(r) for r in data["roles"]), **arrays)

    def to_dict(self) -> dict:
        return {"features": list(FEATURE_NAMES), "roles": list(self.roles),
                **{k: np.round(getattr(self, k), 6).tolist() for k in
                   ("mean", "scale", "hidden_w", "hidden_b", "out_w", "out_b")}}

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, roles) probabilities for (n, features) vectors (or one vector)."""
        x = (np.atleast_2d(features) - self.mean) / self.scale
        hidden = np.maximum(x @ self.hidden_w + self.hidden_b, 0.0)
        logits = hidden @ self.out_w + self.out_b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def classify(self, features: np.ndarray) -> tuple[RoleGuess, dict[str, float]]:
        """The most likely role (source "audio") and every role's probability."""
        p = self.probabilities(features)[0]
        order = np.argsort(p)[::-1]
        best, runner = order[0], order[1]
        evidence = (f"audio classifier: {self.roles[best]} {p[best]:.0%}, "
                    f"then {self.roles[runner]} {p[runner]:.0%}")
        guess = RoleGuess(self.roles[best], "audio", round(float(p[best]), 2), evidence)
        return guess, {role: float(v) for role, v in zip(self.roles, p)}


@lru_cache(maxsize=1)
def shipped_classifier() -> RoleClassifier | None:
    """The shipped classifier, or None when the package has none (a source checkout before the
    first training)."""
    if not WEIGHTS.exists():
        return None
    return RoleClassifier.from_dict(json.loads(WEIGHTS.read_text(encoding="utf-8")))


def expected_offset(probabilities: Mapping[str, float], table: Mapping[str, float]) -> float:
    """The offset averaged over the roles the classifier finds likely: a wrong guess between
    two similar roles then costs little (the offset is the posterior mean)."""
    total = sum(probabilities.values())
    value = sum(p * table[role] for role, p in probabilities.items()) / total
    if not math.isfinite(value):
        raise ValueError("role probabilities do not sum to a finite value")
    return value
