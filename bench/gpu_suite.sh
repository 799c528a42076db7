#!/usr/bin/env bash
# Issue 12's GPU checks in one go, on a CUDA machine: the network, replay memory and learning
# tests on the GPU (the learning tests twice: replay memory on the host, then on the GPU),
# then bench/gpu.py. Usage: bench/gpu_suite.sh OUT_DIR [bench/gpu.py options]
# PYTHONPATH must already reach simple_dqn's requirements (ale-py, gymnasium, ...).
set -uo pipefail
out=${1:?usage: bench/gpu_suite.sh OUT_DIR}
shift
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" SIMPLE_DQN_TEST_BACKEND=gpu PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch, ale_py, platform; print(torch.__version__, torch.cuda.get_device_name(0), \
ale_py.__version__, platform.processor())"
lscpu | grep -i "model name"
tests=(tests/test_network.py tests/test_replay_memory.py tests/test_n_step.py tests/test_learning.py)
timeout 300 python3 -m pytest -q -p no:cacheprovider -n 8 "${tests[@]}" 2>&1 | tee "$out/tests_gpu.log"
SIMPLE_DQN_TEST_FLAGS="--replay_on_gpu true" timeout 200 python3 -m pytest -q -p no:cacheprovider -n 6 \
    tests/test_learning.py 2>&1 | tee "$out/tests_gpu_replay_on_gpu.log"
timeout 420 python3 bench/gpu.py --json "$out/results_gpu.json" "$@" 2>&1 | tee "$out/bench_gpu.log"
