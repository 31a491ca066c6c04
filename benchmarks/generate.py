"""Benchmark: seconds per generated avatar (Anny warm) and a contact sheet of a crowd.

    .venv/bin/python benchmarks/generate.py [--seeds 12] [--first 0] [--poke] [--json] [--out out]

Target: <= 3 s per avatar on the 2-core CI CPU. The sheet (out/generate_contact_sheet.png)
shows every seed in rest pose, front three-quarter view, rendered by avatar_sheet.py.
Also per layer role: triangles (a game-ready avatar stays under GAME_READY triangles with
its hair cards) and the poke-through share in rest pose (target <= 0.5 %).
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import time
from pathlib import Path

# Running this file puts benchmarks/ first on sys.path, where sibling scripts (protocol.py)
# would shadow the real packages; import from the repository instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

TARGET_S = 3.0
GAME_READY = 60_000        # triangles, all layers
REST_POKE = 0.005          # share of a layer's vertices


def layer_table(avatar) -> dict[str, dict[str, float]]:
    """{role: {"tris": triangles, "rest_poke": worst poke share in rest pose}} (face parts
    summed under their roles)."""
    from backend.bodies import get_body_model
    from backend.garments.body_regions import body_regions
    from backend.generate.penetration import measure
    model = get_body_model("anny")
    inner = body_regions(model.rest_body(avatar.metadata["params"])).seg["inner"]
    out: dict[str, dict[str, float]] = {}
    for lay in avatar.layers:
        row = out.setdefault(lay.role, {"tris": 0, "rest_poke": 0.0})
        row["tris"] += len(lay.faces) * (lay.faces.shape[1] - 2)
    for p in measure(avatar, model.faces, inner=inner):
        out[p.role]["rest_poke"] = max(out[p.role]["rest_poke"], p.garment_inside,
                                       p.skin_outside)
    return out


def worst_poke(avatar) -> float:
    """Largest poke-through share over layers, rest pose and the fixed poses."""
    from backend.bodies import get_body_model
    from backend.garments.body_regions import body_regions
    from backend.generate.penetration import measure
    from backend.generate.posing import FIXED_POSES, bone_transforms
    from rig.skinning import linear_blend_skinning
    model = get_body_model("anny")
    inner = body_regions(model.rest_body(avatar.metadata["params"])).seg["inner"]
    worst = 0.0
    for pose in [{}] + list(FIXED_POSES.values()):
        transforms, body_v = bone_transforms(avatar, pose)
        layer_v = {lay.role: linear_blend_skinning(
            lay.vertices, lay.skin_indices, lay.skin_weights, transforms) for lay in avatar.layers}
        for p in measure(avatar, model.faces, body_v, layer_v, inner=inner):
            worst = max(worst, p.garment_inside, p.skin_outside)
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--out", default="out")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    ap.add_argument("--poke", action="store_true",
                    help="also measure poke-through in rest and the fixed poses (slower)")
    args = ap.parse_args(argv)

    from backend.generate import generate_avatar
    sheet = runpy.run_path(str(Path(__file__).with_name("avatar_sheet.py")))   # beside this file
    contact_sheet, render_avatar = sheet["contact_sheet"], sheet["render_avatar"]
    from protocol import save_avatar

    t0 = time.perf_counter()
    generate_avatar(10_000, {})                       # warm: load Anny, segmentation, caches
    warmup = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, images = [], []
    for seed in range(args.first, args.first + args.seeds):
        t = time.perf_counter()
        av = generate_avatar(seed, {})
        gen = time.perf_counter() - t
        t = time.perf_counter()
        path = save_avatar(av, out / f"bench_{seed}.doppel")
        write = time.perf_counter() - t
        a = av.metadata["attributes"]
        layers = layer_table(av)
        rows.append({"seed": seed, "generate_s": round(gen, 3), "write_s": round(write, 3),
                     "bytes": path.stat().st_size, "layers": layers,
                     "tris": sum(r["tris"] for r in layers.values()),
                     "outfit": f"{a['gender']} {a['age']} {a['top']}/{a['bottom']}/"
                               f"{a['shoes']}/{a['hair']} {a['pose']} {a['expression']}"})
        images.append(render_avatar(av))
        path.unlink()
        if args.poke:
            rows[-1]["poke_pct"] = round(100 * worst_poke(av), 2)
    sheet = out / "generate_contact_sheet.png"
    contact_sheet(images, columns=6).save(sheet)
    mean = sum(r["generate_s"] for r in rows) / len(rows)
    worst = max(r["generate_s"] for r in rows)
    summary = {"warmup_s": round(warmup, 2), "mean_s": round(mean, 3), "max_s": worst,
               "target_s": TARGET_S, "ok": worst <= TARGET_S, "contact_sheet": str(sheet),
               "rows": rows}
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"{'seed':>5} {'generate s':>10} {'write s':>8} {'MB':>6} {'tris':>7} {'poke %':>7}"
          f"  outfit")
    for r in rows:
        poke = f"{r['poke_pct']:>7.2f}" if "poke_pct" in r else f"{'-':>7}"
        print(f"{r['seed']:>5} {r['generate_s']:>10.3f} {r['write_s']:>8.3f} "
              f"{r['bytes'] / 1e6:>6.2f} {r['tris']:>7} {poke}  {r['outfit']}")
    print(f"\n{'layer':>10} {'n':>3} {'tris mean':>9} {'tris max':>8} {'rest poke % max':>15}")
    roles = sorted({role for r in rows for role in r["layers"]})
    for role in roles:
        got = [r["layers"][role] for r in rows if role in r["layers"]]
        tris = [g["tris"] for g in got]
        print(f"{role:>10} {len(got):>3} {sum(tris) / len(tris):>9.0f} {max(tris):>8} "
              f"{100 * max(g['rest_poke'] for g in got):>15.2f}")
    most = max(r["tris"] for r in rows)
    worst_rest = max(g["rest_poke"] for r in rows for g in r["layers"].values())
    print(f"triangles: max {most} (game-ready <= {GAME_READY}: "
          f"{'ok' if most <= GAME_READY else 'OVER'}); rest poke max {100 * worst_rest:.2f} % "
          f"(<= {100 * REST_POKE:.1f} %: {'ok' if worst_rest <= REST_POKE else 'OVER'})")
    print(f"warm-up {warmup:.2f} s; mean {mean:.3f} s, max {worst:.3f} s per avatar "
          f"(target <= {TARGET_S} s: {'ok' if worst <= TARGET_S else 'TOO SLOW'})")
    print(f"contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
