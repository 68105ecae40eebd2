"""Do MatchNet's float16 weights predict what the float32 training weights predict?

    .venv/bin/python benchmarks/bench_match_net_weights.py \\
        --float32 .cache/match-run/checkpoint.pt --data .cache/match-data

``--float32`` is a training checkpoint (``train match`` writes OUT/checkpoint.pt, float32) or any
float32 :func:`reaper_automix.models.match_net.save`-format file; its weights go through
:func:`save` (float16) and :func:`load` and both models predict the cached validation examples
under ``DATA/examples/validation`` (held-out sessions, seeds 500000+). Printed: both files'
sizes, the largest difference of the normalised outputs, of each physical parameter, and how
many of the values written to the project (fader, pan, every MultiEQ/OmniCompressor
parameter, on the plug-ins' grids, :func:`reaper_automix.console.params.to_written`) differ.
With ``--eval SOURCE ...`` (e.g. ``heldout:3``), the network-alone condition of ``eval match``
also runs with each model and the per-song figures of both protocols are compared.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from reaper_automix.console import params as P
from reaper_automix.models import match_net as M
from reaper_automix.training.match import Example, collate


def float32_model(path: Path) -> M.MatchNet:
    data = torch.load(path, map_location="cpu", weights_only=False)
    state = data["model"] if "model" in data else data["state_dict"]
    config = data.get("config")
    model = M.MatchNet(M.MatchNetConfig.from_dict(config) if config else M.MatchNetConfig())
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()


def written_values(physical: torch.Tensor) -> dict[str, float]:
    stem = P.to_written(physical, 0.0)
    return {"fader_db": stem.fader_db, "pan": stem.pan,
            **{f"MultiEQ {k}": v for k, v in stem.multieq.items()},
            **{f"OmniCompressor {k}": v for k, v in stem.omnicompressor.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float32", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--eval", nargs="+", metavar="SOURCE", help="also compare the network "
                        "alone in eval match on these song sources (e.g. heldout:3)")
    parser.add_argument("--workdir", type=Path, help="eval's folder (default: temporary)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    full = float32_model(args.float32)
    with tempfile.TemporaryDirectory() as folder:
        half_path = M.save(full, Path(folder) / "match_net.pt")
        half = M.load(half_path)
        half_mib = half_path.stat().st_size / 2 ** 20
    float32_mib = sum(v.numel() * 4 for v in full.state_dict().values()) / 2 ** 20
    print(f"weights: float32 tensors {float32_mib:.1f} MiB, float16 file {half_mib:.1f} MiB "
          f"({full.parameter_count():,} parameters)")
    paths = sorted((args.data / "examples" / "validation").glob("*.npz"))[:args.examples]
    worst_normalised, worst = 0.0, torch.zeros(P.N_PARAMS, dtype=torch.float64)
    written_total = stems = 0
    written_differ: dict[str, list[float]] = {}  # name → differences of the values that differ
    for path in paths:
        example = Example.load(path)
        inputs = collate([example]).to(torch.device("cpu"))
        with torch.no_grad():
            a, b = full.forward_mels(*inputs)[0].double(), half.forward_mels(*inputs)[0].double()
        worst_normalised = max(worst_normalised, float((a - b).abs().max()))
        pa, pb = P.to_physical(a), P.to_physical(b)
        worst = torch.maximum(worst, (pa - pb).abs().amax(dim=0))
        for s in range(example.n_stems):
            wa, wb = written_values(pa[s]), written_values(pb[s])
            written_total += len(wa)
            for name in wa:
                if wa[name] != wb[name]:
                    written_differ.setdefault(name, []).append(abs(wa[name] - wb[name]))
            stems += 1
    print(f"{len(paths)} validation examples, {stems} stems")
    print(f"max |difference| of normalised outputs: {worst_normalised:.2e}")
    for parameter, value in zip(P.PARAMETERS, worst.tolist()):
        print(f"  {parameter.name:<16} {value:.2e}")
    count = sum(len(v) for v in written_differ.values())
    print(f"written values that differ: {count} of {written_total}; the largest difference per "
          "parameter (fader and pan are continuous, the rest on the plug-ins' grids):")
    for name, differences in sorted(written_differ.items()):
        print(f"  {name:<32} {len(differences):>4} values, max {max(differences):.4g}")
    if args.eval:
        compare_evaluation(args.eval, full, half, args.workdir)


def compare_evaluation(sources: list[str], full: M.MatchNet, half: M.MatchNet,
                       workdir: Path | None) -> None:
    from reaper_automix.evaluation import match as E

    figures = {}
    for name, model in (("float32", full), ("float16", half)):
        original = M._shipped
        M._shipped = lambda path, model=model: model  # what predict() uses by default
        try:
            report = E.run_evaluation(sources, conditions=("model",), workdir=workdir)
        finally:
            M._shipped = original
        figures[name] = {(song.song, "same"): song.same_song[0].rms_error_db
                         for song in report.songs}
        figures[name].update({(song.song, "cross"): song.cross_song[0].distance_db
                              for song in report.songs})
    print(f"eval match, network alone, on {' '.join(sources)} (dB):")
    for key in figures["float32"]:
        a, b = figures["float32"][key], figures["float16"][key]
        print(f"  {key[0]:<20} {key[1]:<6} float32 {a:.4f}  float16 {b:.4f}  "
              f"difference {abs(a - b):.1e}")


if __name__ == "__main__":
    main()
