"""Train the audio role classifier (reaper_automix/analysis/role_classifier.json).

    nice -n 10 .venv/bin/python scripts/train_role_classifier.py            # train, evaluate, write
    .venv/bin/python scripts/train_role_classifier.py --dry-run              # evaluate only

Data: every part rendered on its own by scripts/derive_role_offsets.py (its cache under
``.cache/role-offsets/``: game MIDI through FluidR3, MMA grooves, Hydrogen kits and songs, each
with its role from the GM program or drum key, the MMA track kind or the Hydrogen instrument
name) and, when the session generator is installed (reaper_automix.generator), the stems of
``--sessions N`` generated sessions with their role labels. Run derive_role_offsets.py first.

Split: by song (a song's parts are all in training or all held out), ``--held-out`` of the songs
of every source, seeded. Model: features standardised, one hidden ReLU layer, softmax; full-batch
Adam with L2 and class weights (every role counts equally). Roles with fewer than
``--min-examples`` training examples are left out (a track of such a role is classified as the
nearest known one). Prints accuracy, per-role recall/precision and the confusion matrix on the
held-out songs, then retrains on everything and writes the weights with those held-out figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reaper_automix.analysis.role_classifier import WEIGHTS, RoleClassifier  # noqa: E402
from reaper_automix.analysis.role_features import FEATURE_NAMES, role_features  # noqa: E402
from reaper_automix.analysis.roles import ROLES  # noqa: E402

CACHE = REPO / ".cache" / "role-offsets"


def offline_examples() -> list[tuple[str, str, np.ndarray]]:
    """(group, role, features) of every cached part of derive_role_offsets.py."""
    examples = []
    for path in sorted(CACHE.glob("*/*.json")):
        for o in json.loads(path.read_text()):
            if o.get("features") is not None:
                examples.append((f"{o['source']}/{o['song']}", o["role"], np.asarray(o["features"])))
    return examples


def generated_examples(count: int) -> list[tuple[str, str, np.ndarray]]:
    """(group, role, features) of the stems of ``count`` generated sessions (seeds 0…count-1)."""
    if count == 0:
        return []
    from reaper_automix.generator import SessionSpec, generate_session

    examples = []
    for seed in range(count):
        session = generate_session(SessionSpec.draw(seed))
        for stem in session.stems:
            features = role_features(stem.read(), session.sample_rate)
            if features is not None:
                examples.append((f"generated/{seed}", stem.role, features))
        print(f"generated session {seed + 1}/{count}", file=sys.stderr, flush=True)
    return examples


def split(groups: list[str], held_out: float, seed: int) -> np.ndarray:
    """True for examples of held-out groups: ``held_out`` of each source's groups."""
    rng = np.random.default_rng(seed)
    by_source = defaultdict(list)
    for group in sorted(set(groups)):
        by_source[group.split("/")[0]].append(group)
    test = set()
    for members in by_source.values():
        order = rng.permutation(len(members))
        test.update(members[i] for i in order[: max(1, round(held_out * len(members)))])
    return np.array([g in test for g in groups])


def train(x: np.ndarray, y: np.ndarray, roles: list[str], hidden: int, epochs: int, l2: float,
          seed: int) -> RoleClassifier:
    rng = np.random.default_rng(seed)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    k = len(roles)
    counts = np.bincount(y, minlength=k)
    weight = (len(y) / (k * np.maximum(counts, 1)))[y]
    params = [rng.normal(0, np.sqrt(2 / z.shape[1]), (z.shape[1], hidden)), np.zeros(hidden),
              rng.normal(0, np.sqrt(1 / hidden), (hidden, k)), np.zeros(k)]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    onehot = np.eye(k)[y]
    for step in range(1, epochs + 1):
        w1, b1, w2, b2 = params
        pre = z @ w1 + b1
        h = np.maximum(pre, 0)
        logits = h @ w2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        d_logits = (p - onehot) * weight[:, None] / weight.sum()
        grads = [None, None, h.T @ d_logits + l2 * w2, d_logits.sum(axis=0)]
        d_h = d_logits @ w2.T * (pre > 0)
        grads[0], grads[1] = z.T @ d_h + l2 * w1, d_h.sum(axis=0)
        for i, g in enumerate(grads):  # Adam
            moments[i] = 0.9 * moments[i] + 0.1 * g
            squares[i] = 0.999 * squares[i] + 0.001 * g * g
            params[i] -= 0.01 * (moments[i] / (1 - 0.9 ** step)) / (np.sqrt(squares[i] / (1 - 0.999 ** step)) + 1e-8)
    return RoleClassifier(tuple(roles), mean, scale, *params)


def evaluate(model: RoleClassifier, x: np.ndarray, y: np.ndarray) -> dict:
    predicted = model.probabilities(x).argmax(axis=1)
    k = len(model.roles)
    confusion = np.zeros((k, k), dtype=int)
    for truth, guess in zip(y, predicted):
        confusion[truth, guess] += 1
    recall = {model.roles[i]: round(confusion[i, i] / confusion[i].sum(), 3) for i in range(k) if confusion[i].sum()}
    precision = {model.roles[i]: round(confusion[i, i] / confusion[:, i].sum(), 3) for i in range(k) if confusion[:, i].sum()}
    return {"accuracy": round(float((predicted == y).mean()), 3),
            "balanced_accuracy": round(float(np.mean(list(recall.values()))), 3),
            "recall": recall, "precision": precision, "confusion": confusion.tolist(),
            "examples": int(len(y))}


def markdown_confusion(metrics: dict, roles: list[str]) -> str:
    head = "| true \\ predicted | " + " | ".join(r.replace("_", " ") for r in roles) + " | recall |"
    lines = [head, "|---" * (len(roles) + 2) + "|"]
    for i, role in enumerate(roles):
        row = metrics["confusion"][i]
        if sum(row):
            lines.append(f"| {role} | " + " | ".join(str(v) if v else "·" for v in row)
                         + f" | {metrics['recall'][role]:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=0, help="generated sessions to add (needs reaper_automix.generator)")
    parser.add_argument("--held-out", type=float, default=0.25, help="share of each source's songs held out")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1500)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--min-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dry-run", action="store_true", help="evaluate, write nothing")
    args = parser.parse_args(argv)
    examples = offline_examples() + generated_examples(args.sessions)
    if not examples:
        raise SystemExit("no examples: run scripts/derive_role_offsets.py first (it renders and caches the parts)")
    groups = [g for g, _, _ in examples]
    test = split(groups, args.held_out, args.seed)
    train_counts = Counter(r for (_, r, _), t in zip(examples, test) if not t)
    roles = [r for r in ROLES if train_counts[r] >= args.min_examples]
    keep = np.array([r in roles for _, r, _ in examples])
    x = np.stack([f for _, _, f in examples])[keep]
    y = np.array([roles.index(r) for _, r, _ in examples if r in roles])
    test = test[keep]
    print(f"{len(y)} examples ({int(test.sum())} held out) from {len(set(groups))} songs; roles: "
          + ", ".join(f"{r} {train_counts[r]}" for r in roles), file=sys.stderr)
    model = train(x[~test], y[~test], roles, args.hidden, args.epochs, args.l2, args.seed)
    held_out = evaluate(model, x[test], y[test])
    trained = evaluate(model, x[~test], y[~test])
    sources = np.array([g.split("/")[0] for (g, r, _) in examples if r in roles])
    held_out["by_source"] = {
        str(source): evaluate(model, x[test & (sources == source)], y[test & (sources == source)])["accuracy"]
        for source in sorted(set(sources[test]))}
    print(f"held-out accuracy {held_out['accuracy']:.3f} (balanced {held_out['balanced_accuracy']:.3f}); "
          f"training {trained['accuracy']:.3f}; held-out by source: {held_out['by_source']}")
    print(markdown_confusion(held_out, roles))
    if args.dry_run:
        return 0
    final = train(x, y, roles, args.hidden, args.epochs, args.l2, args.seed)
    command = "scripts/train_role_classifier.py " + " ".join(argv if argv is not None else sys.argv[1:])
    counts = Counter(g.split("/")[0] for g, keep_it in zip(groups, keep) if keep_it)
    data = final.to_dict() | {"card": {
        "command": command.strip(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "examples": dict(counts), "held_out": held_out, "hidden": args.hidden,
        "epochs": args.epochs, "l2": args.l2, "seed": args.seed,
        "note": "held_out: a model trained without the held-out songs; the shipped weights are "
                "then retrained on every song"}}
    WEIGHTS.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS.relative_to(REPO)} ({WEIGHTS.stat().st_size // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
