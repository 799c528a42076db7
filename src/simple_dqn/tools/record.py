"""record.sh: play one game with a snapshot and write its frames and an H.264 video.

    python -m simple_dqn.tools.record snapshots/breakout_77.safetensors [--record_sound] [main options]

Writes every emulator frame as videos/<game>/NNNNNN.png (an earlier recording of the game is
replaced, not mixed) and videos/<game>_<epoch>.mp4 at 60 frames per second of emulator time,
with the game's sound (ALE's 512 samples per frame = 30,720 Hz) when --record_sound is given.
imageio-ffmpeg ships its own ffmpeg: no system ffmpeg is needed. --gif PATH also writes a
looping GIF of --gif_seconds of the game from --gif_start (every GIF_STEP-th frame, 20 fps).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

from simple_dqn.arguments import Parser
from simple_dqn.errors import UsageError, report_usage_errors

FPS = 60  # the Atari 2600's NTSC frame rate
GIF_STEP = 3  # a GIF keeps every third frame: 20 fps, a third of the size
AUDIO_RATE = 512 * FPS  # ALE gives 512 audio samples per frame

logger = logging.getLogger("simple_dqn")


class FrameRecorder:
    """Collects emulator frames (RGB uint8 (210, 160, 3)) and audio samples in memory.

    Frames after the first game over (the agent's restart of the next game) are ignored;
    set ``env`` once the environment exists.
    """

    def __init__(self):
        from simple_dqn.progress import progress_bar

        self.frames: list[np.ndarray] = []
        self.audio: list[np.ndarray] = []
        self.env = None
        self.done = False
        self.bar = progress_bar(desc="playing", unit="frame")

    def __call__(self, rgb: np.ndarray, audio: np.ndarray | None) -> None:
        if self.done:
            return
        self.done = self.env is not None and self.env.game_ended()
        self.frames.append(rgb.copy())
        self.bar.update(1)
        if self.done:
            self.bar.close()
        if audio is not None:
            self.audio.append(np.asarray(audio, dtype=np.uint8).copy())


def write_frames(frames: list[np.ndarray], folder: str) -> None:
    """Write frames as NNNNNN.png into folder, replacing the folder as a whole at the end."""
    import imageio.v3 as iio

    parent = os.path.dirname(os.path.abspath(folder))
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".", dir=parent)
    from simple_dqn.progress import progress_bar

    try:
        with progress_bar(len(frames), "writing frames", "frame") as bar:
            for i, frame in enumerate(frames):
                iio.imwrite(os.path.join(staging, f"{i:06d}.png"), frame)
                bar.update(1)
        old = None
        if os.path.exists(folder):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".old.", dir=parent)
            os.rename(folder, os.path.join(old, "frames"))
        os.rename(staging, folder)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_gif(frames: list[np.ndarray], path: str, start_seconds: float, seconds: float) -> int:
    """Write frames[start:start + seconds] (RGB uint8 (210, 160, 3) at 60 fps) as a looping GIF at
    60 / GIF_STEP fps, atomically. Returns the number of GIF frames.

    Raises:
        UsageError: the game is shorter than start_seconds.
    """
    import imageio.v3 as iio

    from simple_dqn.atomic import atomic_path

    start = int(start_seconds * FPS)
    if start >= len(frames):
        raise UsageError(f"--gif_start {start_seconds:g} s is past the game's end ({len(frames) / FPS:.1f} s); "
                         "lower --gif_start")
    chosen = frames[start:start + int(seconds * FPS):GIF_STEP]
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.stack(chosen), extension=".gif", duration=1000 * GIF_STEP / FPS, loop=0)
    return len(chosen)


def write_video(frames: list[np.ndarray], audio: list[np.ndarray], path: str) -> None:
    """Encode frames (and audio, if any) as H.264 MP4 at 60 fps, atomically."""
    import imageio.v2 as imageio
    import imageio_ffmpeg

    from simple_dqn.atomic import atomic_path
    from simple_dqn.progress import progress_bar

    with atomic_path(path) as tmp:
        video = tmp + ".video.mp4"
        try:
            writer = imageio.get_writer(video, format="FFMPEG", mode="I", fps=FPS, codec="libx264",
                                        pixelformat="yuv420p", macro_block_size=2, quality=8)
            with progress_bar(len(frames), "encoding video", "frame") as bar:
                for frame in frames:
                    writer.append_data(frame)
                    bar.update(1)
            writer.close()
            if not audio:
                os.replace(video, tmp)
                return
            sound = tmp + ".wav"
            with wave.open(sound, "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(1)  # ALE's samples are unsigned 8-bit, as WAV's 8-bit format
                f.setframerate(AUDIO_RATE)
                f.writeframes(np.concatenate(audio).tobytes())
            subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", video, "-i", sound,
                            "-c:v", "copy", "-c:a", "aac", "-f", "mp4", tmp], check=True)
        finally:
            for extra in (video, tmp + ".wav"):
                if os.path.exists(extra):
                    os.unlink(extra)


def main(argv: list[str] | None = None) -> int:
    """record.sh entry point; returns the exit status (2 on bad input)."""
    parser = Parser(prog="record.sh", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", help="snapshot file written by train.sh")
    parser.add_argument("--record_sound", action="store_true", help="put the game's sound in the video")
    parser.add_argument("--videos_dir", default="videos", help="folder for the frames and the video")
    parser.add_argument("--gif", help="also write a looping GIF of part of the game to this file")
    parser.add_argument("--gif_start", type=float, default=0.0, help="where the GIF starts, in seconds of the game")
    parser.add_argument("--gif_seconds", type=float, default=10.0, help="how long the GIF lasts, in seconds")
    own, rest = parser.parse_known_args(argv)

    def run():
        from simple_dqn.build import build
        from simple_dqn.arguments import load_arguments
        from simple_dqn.snapshot import split_snapshot_name

        from simple_dqn.atomic import ensure_writable_dir

        ensure_writable_dir(os.path.join(own.videos_dir, "x"))
        if own.gif:
            ensure_writable_dir(own.gif)
        if own.gif_start < 0 or own.gif_seconds <= 0:
            raise UsageError("--gif_start must be >= 0 and --gif_seconds > 0")
        # This tool plays one game.
        args, snapshot = load_arguments(["--load_weights", own.snapshot, *rest, "--num_envs", "1"])
        if args.environment != "ale":
            raise UsageError("record.sh records ALE games only; this snapshot is for "
                             f"{args.environment!r}")
        recorder = FrameRecorder()
        env, _, _, agent = build(args, snapshot, frame_callback=recorder, sound=own.record_sound)
        env.set_mode("test")
        recorder.env = env
        score = agent.play(1)[0]
        prefix, epoch = split_snapshot_name(own.snapshot)
        frames_dir = os.path.join(own.videos_dir, env.name)
        video = os.path.join(own.videos_dir, f"{env.name}_{epoch}.mp4")
        write_frames(recorder.frames, frames_dir)
        write_video(recorder.frames, recorder.audio, video)
        print(f"score {score:g} in {len(recorder.frames)} frames; wrote {frames_dir}/ and {video}", flush=True)
        if own.gif:
            count = write_gif(recorder.frames, own.gif, own.gif_start, own.gif_seconds)
            print(f"wrote {own.gif} ({count} frames at {FPS // GIF_STEP} fps)", flush=True)

    return report_usage_errors(run, "record.sh")


if __name__ == "__main__":
    sys.exit(main())
