"""The reports in a real browser: headless Chromium (Debian's `chromium`; `make browser` installs it)
renders report.html and history.html. Checked: the screenshot is not blank, every embedded image decodes in
the browser (and again with PIL from the rendered DOM), and the verdict and summary sentences are on the
page. Skipped only when there is no chromium binary."""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` binary on PATH (install it with `make browser`)"
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,2000",
)

# Appended to a copy of the page only (the report itself has no script): after load, it writes how many
# images the browser decoded into an element that --dump-dom then shows.
IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter((i) => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  const out = document.createElement("div");
  out.id = "image-probe";
  out.textContent = ok + "/" + imgs.length;
  document.body.appendChild(out);
});
</script>"""


def _sibling(name: str):
    """The data-building helpers of test_report.py (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_report_helpers_{name}", Path(__file__).with_name(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _sibling("test_report.py")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def element_text(dom: str, element_id: str) -> str:
    m = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', dom, re.DOTALL)
    assert m, f"no element with id {element_id!r} in the rendered DOM"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).split())


def check_in_browser(page: Path, tmp_path: Path, element_id: str, sentence: str, images: int) -> None:
    from PIL import Image, ImageStat

    # 1. the screenshot is not blank: many colours, and real contrast
    shot = tmp_path / f"{page.stem}.png"
    chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1200, 2000)
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50, f"{len(colours)} colours: blank page?"
        assert ImageStat.Stat(rgb.convert("L")).stddev[0] > 10

    # 2. the verdict sentence is on the rendered page
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert element_text(dom, element_id) == " ".join(sentence.split())

    # 3. every embedded image decodes: in the browser (a probe on a copy of the page) ...
    probe = tmp_path / f"{page.stem}-probe.html"
    probe.write_text(page.read_text("utf-8").replace("</body>", IMAGE_PROBE + "</body>"), "utf-8")
    probed = chromium(tmp_path, "--virtual-time-budget=20000", "--dump-dom", probe.as_uri()).stdout
    assert element_text(probed, "image-probe") == f"{images}/{images}"
    # ... and with PIL, from the DOM the browser built
    srcs = re.findall(r'<img[^>]*\bsrc="(data:image/png;base64,[^"]+)"', dom)
    assert len(srcs) == images
    for src in srcs:
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            im.load()
            assert im.format == "PNG" and im.width > 100


def test_cycle_report_renders_with_its_verdict(tmp_path):
    from eval.report import verdict, write_report

    ev = helpers.eval_result(
        helpers.rows(3, 1, 2), helpers.rows(1, 2, 3), leaks=[("What is my grandmother called?", "Ana")] * 4
    )
    r = helpers.cycle_report(
        ev,
        "rejected",
        kept=["My sister is called Ana.", "I live in Oslo."],
        redactions={"email": 1},
        loss_curve=[(i, 3.0 / (i + 1)) for i in range(24)],
        val_curve=[(8, 1.0), (16, 0.6), (24, 0.5)],
    )
    page = write_report(r, tmp_path / "cycles" / "3").with_name("report.html")
    check_in_browser(page, tmp_path, "verdict", verdict(r).replace("`", ""), images=1)


def test_history_report_renders_with_its_summary(tmp_path):

    home = helpers.make_home(tmp_path)
    helpers.four_nights(home)
    page = helpers._write_history(home)
    check_in_browser(page, tmp_path, "summary", helpers._history_data(home)["summary"], images=5)
