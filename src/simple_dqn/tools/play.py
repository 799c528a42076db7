"""play.sh: watch a snapshot play one game, and take the controls yourself.

    python -m simple_dqn.tools.play snapshots/breakout_77.safetensors [--display auto|window|terminal] [options]

The agent plays with exploration_rate_test. Keys (as the original): a slows down, s speeds
up, m toggles manual control (arrow keys move, space fires; m again hands control back),
[ and ] lower and raise the volume, q or Esc quits. With a display (DISPLAY, WAYLAND_DISPLAY
or SDL_VIDEODRIVER set) the game is shown in a pygame window with its sound where the
machine has audio; otherwise, or with --display terminal, it is drawn in the terminal with
24-bit colour half-block characters, with the score on a status line.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import sys
import time

import numpy as np

from simple_dqn.arguments import Parser
from simple_dqn.errors import UsageError, report_usage_errors

FPS = 60  # emulator frames per second at normal speed
SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1000.0)  # multiples of the game's speed ("a"/"s")
HELP = "a/s slower/faster  m manual  arrows+space move/fire  [/] volume  q quit"


class Controls:
    """What the keys have set: speed, manual control, volume, the held direction and fire."""

    def __init__(self):
        self.speed_index = SPEEDS.index(1.0)
        self.manual = False
        self.volume = 0.5
        self.quit = False
        self.held: set[str] = set()

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    def press(self, key: str) -> None:
        """Apply one key: a, s, m, [, ], q, or a movement key (up, down, left, right, fire)."""
        if key == "a":
            self.speed_index = max(0, self.speed_index - 1)
        elif key == "s":
            self.speed_index = min(len(SPEEDS) - 1, self.speed_index + 1)
        elif key == "m":
            self.manual = not self.manual
        elif key == "[":
            self.volume = round(max(0.0, self.volume - 0.1), 2)
        elif key == "]":
            self.volume = round(min(1.0, self.volume + 0.1), 2)
        elif key == "q":
            self.quit = True
        elif key in ("up", "down", "left", "right", "fire"):
            self.held.add(key)


def manual_action(env, held: set[str]) -> int:
    """The agent action closest to the held keys (arrows and fire), NOOP when none fits."""
    if env.name == "catch":
        return 1 if "left" in held else 2 if "right" in held else 0
    from ale_py import Action

    vertical = "UP" if "up" in held else "DOWN" if "down" in held else ""
    horizontal = "LEFT" if "left" in held else "RIGHT" if "right" in held else ""
    fire = "FIRE" if "fire" in held else ""
    for name in (vertical + horizontal + fire, vertical + horizontal, horizontal + fire, vertical + fire,
                 horizontal, vertical, fire):
        if name and name in Action.__members__ and Action[name].value in env.action_set:
            return env.action_set.index(Action[name].value)
    return env.action_set.index(0) if 0 in env.action_set else 0


def status_line(score: float, controls: Controls, frames: int) -> str:
    """The line under the game: score, emulator frames, who plays, speed, volume and the keys."""
    who = "MANUAL" if controls.manual else "agent"
    speed = "max" if controls.speed > 100 else f"x{controls.speed:g}"
    return f"score {score:g}  frame {frames}  {who}  speed {speed}  volume {controls.volume:.1f}  |  {HELP}"


class TerminalDisplay:
    """Draws RGB frames in a 24-bit colour terminal: one character cell = two pixel rows (▀)."""

    KEYS = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left", " ": "fire",
            "\x1b": "q", "q": "q", "a": "a", "s": "s", "m": "m", "[": "[", "]": "]"}

    def __init__(self, out=None, fd: int | None = None):
        self.out = out or sys.stdout
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved = None
        if os.isatty(self.fd):
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        self.out.write("\x1b[?25l\x1b[2J")  # hide the cursor, clear
        self.sound = False

    def poll(self) -> list[str]:
        """Keys pressed since the last poll."""
        keys = []
        while select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 64).decode("latin-1")
            if not data:
                break
            i = 0
            while i < len(data):
                if data[i] == "\x1b" and data[i + 1:i + 2] == "[" and i + 2 < len(data):
                    keys.append(self.KEYS.get(data[i:i + 3], ""))
                    i += 3
                else:
                    keys.append(self.KEYS.get(data[i], ""))
                    i += 1
        return [k for k in keys if k]

    def draw(self, rgb: np.ndarray, status: str) -> None:
        columns, lines = shutil.get_terminal_size((80, 24))
        height, width = rgb.shape[:2]
        scale = max(width / columns, height / (2 * (lines - 1)))
        w, h = max(1, int(width / scale)), max(2, int(height / scale) // 2 * 2)
        image = rgb[(np.arange(h) * height // h)][:, (np.arange(w) * width // w)]
        parts = ["\x1b[H"]
        for row in range(0, h, 2):
            top, bottom = image[row], image[row + 1]
            colours = np.concatenate([top, bottom], axis=1)  # (w, 6)
            changed = np.ones(w, dtype=bool)
            changed[1:] = (colours[1:] != colours[:-1]).any(axis=1)
            for x in range(w):
                if changed[x]:
                    r, g, b, r2, g2, b2 = colours[x]
                    parts.append(f"\x1b[38;2;{r};{g};{b}m\x1b[48;2;{r2};{g2};{b2}m")
                parts.append("▀")
            parts.append("\x1b[0m\x1b[K\n")
        parts.append("\x1b[0m" + status[:columns] + "\x1b[K")
        self.out.write("".join(parts))
        self.out.flush()

    def audio(self, samples: np.ndarray, volume: float) -> None:
        """Terminals play no sound."""

    def close(self) -> None:
        self.out.write("\x1b[0m\x1b[?25h\n")
        self.out.flush()
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)


class WindowDisplay:
    """A pygame (SDL 2) window, three times the game's size, with the game's sound if possible."""

    KEYS = {"a": "a", "s": "s", "m": "m", "[": "[", "]": "]", "q": "q", "escape": "q"}

    def __init__(self, title: str, scale: int = 3):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self.pygame = pygame
        pygame.display.init()
        pygame.display.set_caption(title)
        self.scale = scale
        self.screen = None
        self.sound = False
        try:
            pygame.mixer.init(frequency=30720, size=8, channels=1)
            self.channel = pygame.mixer.Channel(0)
            self.sound = True
        except pygame.error:
            self.channel = None  # no audio device: play silently

    def poll(self) -> list[str]:
        pygame = self.pygame
        keys = []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                keys.append("q")
            elif event.type == pygame.KEYDOWN:
                keys.append(self.KEYS.get(pygame.key.name(event.key), ""))
        pressed = pygame.key.get_pressed()
        for code, name in ((pygame.K_UP, "up"), (pygame.K_DOWN, "down"), (pygame.K_LEFT, "left"),
                           (pygame.K_RIGHT, "right"), (pygame.K_SPACE, "fire")):
            if pressed[code]:
                keys.append(name)
        return [k for k in keys if k]

    def draw(self, rgb: np.ndarray, status: str) -> None:
        pygame = self.pygame
        height, width = rgb.shape[:2]
        scale = self.scale if height > 50 else max(1, 600 // height)
        if self.screen is None:
            self.screen = pygame.display.set_mode((width * scale, height * scale))
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(rgb.transpose(1, 0, 2)))
        self.screen.blit(pygame.transform.scale(surface, self.screen.get_size()), (0, 0))
        pygame.display.set_caption(status)
        pygame.display.flip()

    def audio(self, samples: np.ndarray, volume: float) -> None:
        if self.channel is None or samples is None:
            return
        sound = self.pygame.mixer.Sound(buffer=np.asarray(samples, dtype=np.uint8).tobytes())
        sound.set_volume(volume)
        self.channel.queue(sound)

    def close(self) -> None:
        self.pygame.quit()


def choose_display(kind: str, title: str):
    """window, terminal, or (auto) a window when a display is available.

    A display is DISPLAY (X11), WAYLAND_DISPLAY, or an SDL_VIDEODRIVER chosen by the user.

    Raises:
        UsageError: a window asked for where there is no display (it would play unseen).
    """
    has_display = any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))
    if kind == "auto":
        kind = "window" if has_display else "terminal"
    elif kind == "window" and not has_display:
        raise UsageError("--display window needs a display, and DISPLAY and WAYLAND_DISPLAY are not set; "
                         "use --display terminal, or run it in a desktop session")
    return WindowDisplay(title) if kind == "window" else TerminalDisplay()


class Player:
    """Runs one game: the agent (or the player) acts, frames are drawn at the chosen speed."""

    def __init__(self, env, agent, display, controls: Controls, draw_every: int = 1):
        self.env, self.agent, self.display, self.controls = env, agent, display, controls
        self.draw_every = draw_every
        self.score = 0.0
        self.frames = 0
        self._next_time = time.perf_counter()

    def on_frame(self, rgb: np.ndarray, audio) -> None:
        """Frame callback of the ALE environment: draw, play sound, keep the game's speed."""
        self.frames += 1
        if audio is not None and self.controls.speed == 1.0:
            self.display.audio(audio, self.controls.volume)
        if self.frames % self.draw_every == 0:
            self.display.draw(rgb, status_line(self.score, self.controls, self.frames))
        self._next_time += 1.0 / (FPS * self.controls.speed)
        delay = self._next_time - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next_time = time.perf_counter()

    def run(self) -> float:
        """Play until game over (or q); returns the score."""
        agent, env, controls = self.agent, self.env, self.controls
        game = env.games[0]
        env.set_mode("test")
        agent.begin()
        while not controls.quit:
            controls.held.clear()
            for key in self.display.poll():
                controls.press(key)
            manual = np.array([manual_action(env, controls.held)]) if controls.manual else None
            agent.act(agent.exploration_rate_test, actions=manual)
            rewards, terminals = agent.observe(agent.exploration_rate_test)
            self.score += rewards[0]
            if not hasattr(game, "frame_callback"):
                # Games without a frame hook are drawn once per step.
                self.on_frame(np.asarray(game.rgb_screen()), None)
            if terminals[0]:
                break
        self.display.draw(np.asarray(game.rgb_screen()), "GAME OVER  " + status_line(self.score, controls, self.frames))
        return self.score


def main(argv: list[str] | None = None) -> int:
    """play.sh entry point; returns the exit status (2 on bad input)."""
    parser = Parser(prog="play.sh", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", help="snapshot file written by train.sh")
    parser.add_argument("--display", choices=["auto", "window", "terminal"], default="auto",
                        help="where to show the game (default: a window when there is a display)")
    parser.add_argument("--speed", type=float, default=1.0, choices=SPEEDS, help="start speed, x the game's")
    own, rest = parser.parse_known_args(argv)

    def run():
        from simple_dqn.build import build
        from simple_dqn.arguments import load_arguments

        # This tool plays one game.
        args, snapshot = load_arguments(["--load_weights", own.snapshot, "--log_level", "WARNING", *rest,
                                         "--num_envs", "1"])
        controls = Controls()
        controls.speed_index = SPEEDS.index(own.speed)
        display = choose_display(own.display, f"simple_dqn: {snapshot.game}")
        try:
            player = Player(None, None, display, controls)
            kwargs = {}
            if args.environment == "ale":
                kwargs = dict(frame_callback=player.on_frame, sound=display.sound)
                # The terminal draws once per agent step; a window draws every frame.
                player.draw_every = args.frame_skip if isinstance(display, TerminalDisplay) else 1
            env, _, _, agent = build(args, snapshot, **kwargs)
            player.env, player.agent = env, agent
            score = player.run()
        finally:
            display.close()
        print(f"score {score:g} in {player.frames} frames", flush=True)

    return report_usage_errors(run, "play.sh")


if __name__ == "__main__":
    sys.exit(main())
