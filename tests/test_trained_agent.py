"""The shipped Pong agent still plays: a regression test of the whole acting path.

test.sh on snapshots/pong_<epoch>.safetensors plays whole Pong games through ALE with the
snapshot's own options (screen preprocessing, frame pooling, state assembly, network, snapshot
loading). A trained agent wins them by a wide margin; a random policy on the same games loses
almost every point, so the assertion can fail.
"""

import re

from conftest import ROOT, run_script

GAMES = 5
SEED = 7


def shipped_pong_snapshot():
    snapshots = sorted((p for p in ROOT.glob("snapshots/pong_*.safetensors")
                        if re.fullmatch(r"pong_\d+\.safetensors", p.name)),
                       key=lambda p: int(re.search(r"_(\d+)\.safetensors$", p.name).group(1)))
    assert snapshots, "no trained Pong agent in snapshots/ (the README's quick start plays it)"
    return snapshots[-1]


def game_scores(games_csv):
    lines = games_csv.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:lines.index("")]]
    return [float(score) for _, _, score in rows]


def play(tmp_path, name, *extra):
    csv_file = tmp_path / f"{name}.csv"
    proc = run_script("test.sh", [shipped_pong_snapshot(), "--test_games", GAMES, "--random_seed", SEED,
                                  "--csv_file", csv_file, *extra], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = game_scores(tmp_path / f"{name}_games.csv")
    assert len(scores) == GAMES
    return scores


def test_shipped_pong_agent_wins_and_a_random_policy_loses(tmp_path):
    trained = play(tmp_path, "trained")  # epsilon 0.05: the snapshot's --exploration_rate_test
    assert sum(trained) / GAMES >= 18, f"the shipped Pong agent scored {trained}"
    random_policy = play(tmp_path, "random", "--exploration_rate_test", "1")
    assert sum(random_policy) / GAMES <= -19, f"a random policy scored {random_policy}"
