"""CUDA graphs for the network's prediction and update: captured once per shape, then replayed.

A graph replays the kernels it captured on the same memory: its inputs are copied into static
tensors and its outputs are static tensors that the next replay overwrites. Used by
deepqnetwork.DeepQNetwork where cuda_graphs is on (the GPU backend's default), on the network's
own state (online, optimizer, _update, _cost_sum, and the captured graphs it keeps by shape).
"""

from __future__ import annotations

import numpy as np
import torch


def predict_graphed(net, states: np.ndarray) -> np.ndarray:
    """net.predict as one captured CUDA graph per batch size: states uint8 (B, history_length, H, W)
    in, float32 (B, num_actions) out."""
    batch = len(states)
    if batch not in net._predict_graphs:
        static_in = net._to_device(states).clone()
        warmup = torch.cuda.Stream()
        warmup.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(warmup), net._autocast():
            net.online(static_in)  # lets cuDNN choose its kernels outside the capture
        torch.cuda.current_stream().wait_stream(warmup)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), net._autocast():
            static_out = net.online(static_in).float()
        net._predict_graphs[batch] = (graph, static_in, static_out)
    graph, static_in, static_out = net._predict_graphs[batch]
    static_in.copy_(torch.from_numpy(np.ascontiguousarray(states)), non_blocking=True)
    graph.replay()
    return static_out.cpu().numpy()


def train_graphed(net, inputs: tuple, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """net._update replayed as a CUDA graph, captured once per input shapes and n; its outputs
    (cost, Q(s, a), TD errors) are overwritten by the next update."""
    key = (tuple((x.shape, x.dtype) for x in inputs), n)
    if key not in net._update_graphs:
        net._update_graphs[key] = capture_update(net, inputs, n)
    graph, static_inputs, outputs = net._update_graphs[key]
    for static, value in zip(static_inputs, inputs):
        static.copy_(value, non_blocking=True)
    graph.replay()
    return outputs


def capture_update(net, inputs: tuple, n: int):
    """Capture net._update as a CUDA graph, then undo the updates that warm-up and capture made.

    The capture needs the optimizer's state and the gradients to exist (and cuDNN's kernel
    choice made), so three real updates run first on a side stream; the weights, the
    optimizer's state and the cost sum are restored afterwards, in place, since the graph
    holds their addresses.
    """
    saved_weights = [t.clone() for t in net.online.state_dict().values()]
    saved_optimizer = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in state.items()}
                       for p, state in net.optimizer.state.items()}
    saved_cost = net._cost_sum.clone()
    static_inputs = tuple(x.clone() for x in inputs)
    warmup = torch.cuda.Stream()
    warmup.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(warmup):
        for _ in range(3):
            net._update(static_inputs, n)
    torch.cuda.current_stream().wait_stream(warmup)
    net.optimizer.zero_grad()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = net._update(static_inputs, n)
    with torch.no_grad():
        for tensor, saved in zip(net.online.state_dict().values(), saved_weights):
            tensor.copy_(saved)
        for p, state in net.optimizer.state.items():
            before = saved_optimizer.get(p, {})
            for k, v in state.items():
                if torch.is_tensor(v):
                    v.copy_(before[k]) if k in before else v.zero_()
        net._cost_sum.copy_(saved_cost)
    return graph, static_inputs, outputs
