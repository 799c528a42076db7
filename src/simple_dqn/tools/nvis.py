"""nvis.sh: what each convolutional filter attends to, by guided backpropagation.

    python -m simple_dqn.tools.nvis snapshots/breakout_77.safetensors [--visualization_filters 4]

Plays one game with the snapshot to collect states; for each of the first N filters of each
of the three conv layers finds the state that activates the filter most (its maximum over
positions), and computes guided backpropagation (Springenberg et al. 2015, via captum) of
that activation with respect to the input. Writes one self-contained HTML page,
results/<game>.html (or --visualization_file): per layer and filter, the state as a colour
picture (the last three screens in red, green and blue: grey where nothing moved, blue the
newest change) next to the guided backpropagation image. The mouse wheel zooms an image.
"""

from __future__ import annotations

import base64
import html
import io
import os
import sys

import numpy as np
import torch
from torch import nn

from simple_dqn.arguments import Parser
from simple_dqn.errors import UsageError, report_usage_errors

MAX_STATES = 2000  # states kept from the game, in steps
ZOOM = 3  # pixels per screen pixel in the page


class FilterActivation(nn.Module):
    """The network up to one conv layer's ReLU; output (B, filters): each filter's maximum over positions."""

    def __init__(self, network: nn.Module, layer: int):
        super().__init__()
        convs = [i for i, m in enumerate(network.features) if isinstance(m, nn.Conv2d)]
        relus = [i for i, m in enumerate(network.features) if isinstance(m, nn.ReLU)]
        end = next(r for r in relus if r > convs[layer])
        self.body = network.features[:end + 1]

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        activations = self.body(states * (1.0 / 255.0))
        return activations.amax(dim=(2, 3))


def collect_states(agent, env, max_states: int = MAX_STATES) -> np.ndarray:
    """Play one game (test mode) and return its states: uint8 (n, history_length, H, W)."""
    from simple_dqn.progress import progress_bar

    states = []
    env.set_mode("test")
    agent.begin()
    with progress_bar(max_states, "playing a game", "step") as bar:
        while len(states) < max_states:
            states.append(agent.buffer.states[0].copy())
            agent.act(agent.exploration_rate_test)
            _, terminals = agent.observe(agent.exploration_rate_test)
            bar.update(1)
            if terminals[0]:
                break
    return np.stack(states)


def colour_state(state: np.ndarray) -> np.ndarray:
    """The last three screens of a state as RGB (red oldest, blue newest): uint8 (H, W, 3)."""
    return np.stack([state[-3], state[-2], state[-1]], axis=-1)


def colour_gradient(gradient: np.ndarray) -> np.ndarray:
    """Guided backpropagation of the last three screens as RGB, scaled to the largest |value|."""
    rgb = np.abs(np.stack([gradient[-3], gradient[-2], gradient[-1]], axis=-1))
    peak = rgb.max()
    return (255 * rgb / peak).astype(np.uint8) if peak > 0 else rgb.astype(np.uint8)


def png_data_uri(image: np.ndarray) -> str:
    """A PNG data URI of an RGB image, enlarged ZOOM times (nearest neighbour)."""
    import imageio.v3 as iio

    image = np.repeat(np.repeat(image, ZOOM, axis=0), ZOOM, axis=1)
    buffer = io.BytesIO()
    iio.imwrite(buffer, image, extension=".png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def visualize(network: nn.Module, states: np.ndarray, filters: int) -> list[dict]:
    """For each conv layer and its first ``filters`` filters: the most activating state and its
    guided backpropagation. Returns dicts with layer, filter, activation, state, gradient."""
    import warnings

    from captum.attr import GuidedBackprop

    warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU", category=UserWarning)
    from simple_dqn.progress import progress_bar

    network = network.float().eval()
    batch = torch.from_numpy(states).float()
    panels = []
    bar = progress_bar(3 * filters, "guided backpropagation", "filter")
    for layer in range(3):
        model = FilterActivation(network, layer).eval()
        with torch.no_grad():
            activations = torch.cat([model(chunk) for chunk in batch.split(256)])
        count = min(filters, activations.shape[1])
        guided = GuidedBackprop(model)
        for f in range(count):
            bar.update(1)
            best = int(activations[:, f].argmax())
            state = batch[best:best + 1].clone().requires_grad_(True)
            gradient = guided.attribute(state, target=f)[0].detach().numpy()
            panels.append(dict(layer=layer + 1, filter=f, activation=float(activations[best, f]),
                               state=states[best], gradient=gradient))
    bar.close()
    return panels


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; background: #222; color: #eee; margin: 1em; }}
h2 {{ margin: 1em 0 0.3em; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; background: #333; padding: 0.5em; overflow: hidden; }}
figcaption {{ font-size: 0.9em; margin-bottom: 0.3em; }}
img {{ image-rendering: pixelated; transform-origin: center; transition: transform 0.05s; }}
</style></head><body>
<h1>{title}</h1>
<p>Left: the state that activates the filter most (last three screens as red, green, blue:
grey where nothing moved, blue the newest change). Right: guided backpropagation of the
filter's activation with respect to that state. Scroll over an image to zoom.</p>
{body}
<script>
document.querySelectorAll("img").forEach(function (img) {{
  var scale = 1;
  img.addEventListener("wheel", function (e) {{
    e.preventDefault();
    scale = Math.min(8, Math.max(1, scale * (e.deltaY < 0 ? 1.2 : 1 / 1.2)));
    img.style.transform = "scale(" + scale + ")";
  }});
}});
window.addEventListener("load", function () {{
  var shown = Array.prototype.filter.call(document.images, function (i) {{ return i.naturalWidth > 0; }});
  document.body.setAttribute("data-images-rendered", shown.length);
}});
</script>
</body></html>
"""


def render_page(title: str, panels: list[dict]) -> str:
    """The self-contained HTML page (images embedded as data URIs)."""
    parts = []
    for layer in sorted({p["layer"] for p in panels}):
        parts.append(f"<h2>Convolutional layer {layer}</h2><div class=\"row\">")
        for p in (p for p in panels if p["layer"] == layer):
            caption = html.escape(f"layer {layer}, filter {p['filter']} (activation {p['activation']:.3g})")
            parts.append(
                f"<figure><figcaption>{caption}</figcaption>"
                f"<img alt=\"{caption}: input\" src=\"{png_data_uri(colour_state(p['state']))}\"> "
                f"<img alt=\"{caption}: guided backpropagation\" "
                f"src=\"{png_data_uri(colour_gradient(p['gradient']))}\"></figure>")
        parts.append("</div>")
    return PAGE.format(title=html.escape(title), body="\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    """nvis.sh entry point; returns the exit status (2 on bad input)."""
    import argparse

    parser = Parser(prog="nvis.sh", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", help="snapshot file written by train.sh")
    own, rest = parser.parse_known_args(argv)

    def run():
        from simple_dqn.atomic import ensure_writable_dir, write_text_atomic
        from simple_dqn.build import build
        from simple_dqn.arguments import load_arguments

        # This tool plays one game.
        args, snapshot = load_arguments(["--load_weights", own.snapshot, *rest, "--num_envs", "1"])
        if args.history_length < 3:
            raise UsageError("nvis needs history_length >= 3 to show three screens as colours")
        env, _, net, agent = build(args, snapshot)
        path = args.visualization_file or os.path.join("results", f"{env.name}.html")
        ensure_writable_dir(path)
        states = collect_states(agent, env)
        panels = visualize(net.online, states, args.visualization_filters)
        title = f"simple_dqn filters: {env.name}, epoch {snapshot.epoch}"
        write_text_atomic(path, render_page(title, panels))
        print(f"wrote {path}: {len(panels)} filters from {len(states)} states", flush=True)

    return report_usage_errors(run, "nvis.sh")


if __name__ == "__main__":
    sys.exit(main())
