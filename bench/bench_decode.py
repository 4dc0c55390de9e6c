"""Memory of decoding one hostile or large image, against the size of the picture it yields.

Each case runs in a fresh process: the peak resident memory while ``decode_image`` runs, less
the resident memory just before it (imports done, encoded bytes in memory), is divided by the
bytes of the RGB array it returns (the least any decoder must hold). The old 16-bit path (a
float64 copy of the whole picture) is measured in the same run as the baseline to beat.

    python bench/bench_decode.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CASES = ("png16", "png16-float64", "rgba", "jpeg-35mp", "grey")

_CHILD = r"""
import io, json, resource, sys
import numpy as np
from PIL import Image
case = sys.argv[1]

def png(img):
    out = io.BytesIO(); img.save(out, "PNG"); return out.getvalue()

if case.startswith("png16"):
    data = png(Image.new("I;16", (11999, 3333), 300))
elif case == "rgba":
    data = png(Image.new("RGBA", (6000, 4000), (10, 20, 30, 128)))
elif case == "jpeg-35mp":
    small = Image.effect_noise((800, 600), 40).convert("RGB")
    out = io.BytesIO(); small.resize((7000, 5000)).save(out, "JPEG", quality=80)
    data = out.getvalue()
else:
    out = io.BytesIO(); Image.new("L", (8000, 5000), 77).save(out, "PNG"); data = out.getvalue()

import gc; gc.collect()
from faceguard.engine import imaging

def old_16bit(data):
    img = Image.open(io.BytesIO(data)); img.load()
    arr16 = np.asarray(img, dtype=np.float64)
    peak = float(arr16.max()) or 1.0
    grey = Image.fromarray((arr16 * (255.0 / peak)).astype(np.uint8), mode="L")
    return np.ascontiguousarray(np.asarray(grey.convert("RGB"), dtype=np.uint8))

# the peak so far belongs to building the test image: measure from a fresh high-water mark
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])
rgb = old_16bit(data) if case == "png16-float64" else imaging.decode_image(data)
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
print(json.dumps({"case": case, "shape": list(rgb.shape), "encoded": len(data),
                  "peak_mb": (peak - before) / 1024, "array_mb": rgb.nbytes / 2**20}))
"""


def main() -> None:
    rows = []
    for case in CASES:
        done = subprocess.run([sys.executable, "-c", _CHILD, case], capture_output=True,
                              text=True, check=True)
        rows.append(json.loads(done.stdout))
    print(f"{'case':15s} {'picture':>15s} {'encoded':>10s} {'array MB':>9s} {'peak MB':>8s} "
          f"{'peak/array':>10s}")
    for row in rows:
        h, w, _ = row["shape"]
        print(f"{row['case']:15s} {f'{w}x{h}':>15s} {row['encoded']:>10,d} "
              f"{row['array_mb']:9.0f} {row['peak_mb']:8.0f} "
              f"{row['peak_mb'] / row['array_mb']:10.2f}")
    new, old = (next(r for r in rows if r["case"] == c) for c in ("png16", "png16-float64"))
    print(f"\n16-bit PNG: the float64 path peaks at {old['peak_mb'] / new['peak_mb']:.1f}x "
          "the current one")


if __name__ == "__main__":
    main()
