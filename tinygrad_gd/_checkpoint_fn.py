"""``tg.checkpoint(fn, *args)``: trade compute for memory. (Not ``_checkpoint.py``, which
saves and loads state-dict files.)

The segment ``fn`` runs once in the forward without keeping its intermediate results; the
graph records a single node that saves only the segment's inputs. When backward reaches the
node it runs ``fn`` again, now recording, and backpropagates through that recomputation, as
``torch.utils.checkpoint`` (its ``use_reentrant=False`` behaviour: ``torch.autograd.grad`` and
``.backward()`` both work, and tensors ``fn`` closes over, such as a module's parameters, get
their gradients). The peak memory of a network split into checkpointed segments is then the
segment boundaries plus one segment's intermediates, instead of every intermediate.

Under ``create_graph=True`` the recomputed gradient is itself recorded and reconnected to the
node's inputs (:class:`_Reconnect`), so second derivatives through a checkpoint are exact too
(without the memory saving for that pass).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import autograd
from .autograd import Function, GraphTensor, enable_grad, is_grad_enabled
from .tensor import Tensor

__all__ = ["checkpoint"]


def checkpoint(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` as one recorded node that saves only its inputs; its backward
    recomputes ``fn`` (which must be deterministic and return one Tensor).

    ``args`` may be Tensors, arrays or other values (passed through unchanged); ``kwargs`` go
    to ``fn`` unchanged. Leaf tensors that ``fn`` closes over and that require grad (a
    module's parameters) are found by the forward run and get their gradients; pass a tensor
    computed outside ``fn`` as an argument rather than closing over it. Nothing the node saved
    may change in place before backward (the usual version check refuses it). Under
    ``no_grad`` this is just ``fn(*args, **kwargs)``.
    """
    if not is_grad_enabled():
        return fn(*args, **kwargs)
    detached = [a.detach() if isinstance(a, Tensor) else a for a in args]
    out = fn(*detached, **kwargs)  # records only what closed-over tensors need (freed below)
    if not isinstance(out, GraphTensor):
        raise TypeError(f"checkpoint: fn must return one Tensor, it returned {type(out).__name__}")
    captured = _closed_over(out)
    if not captured and not any(isinstance(a, GraphTensor) and a.requires_grad for a in args):
        return out
    tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, GraphTensor))
    result = out.data
    del out  # the forward's recorded graph (if any) goes now: only the inputs stay saved
    return _Checkpoint.apply(
        *args,
        *captured,
        fn=fn,
        kwargs=kwargs,
        n_args=len(args),
        tensor_positions=tensor_positions,
        result=result,
    )


def _closed_over(out: GraphTensor) -> list[GraphTensor]:
    """The leaf tensors requiring grad that ``out``'s recorded graph reaches. ``fn`` ran on
    detached inputs, so these are what it closes over (a module's parameters)."""
    if out._node is None:
        return [out] if out.requires_grad else []
    found: list[GraphTensor] = []
    seen: set[int] = set()
    stack = [out._node]
    while stack:
        for edge in stack.pop().edges:
            if edge is None or id(edge) in seen:
                continue
            seen.add(id(edge))
            if isinstance(edge, Function):
                stack.append(edge)
            else:
                found.append(edge)
    return found


class _Checkpoint(Function):
    """y = fn(*args), recorded as one node: saves the inputs, recomputes fn in backward."""

    returns_view = True  # fn may return a view of an input (then they share a version counter)

    def forward(
        self,
        *arrays: Any,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        n_args: int,
        tensor_positions: tuple[int, ...],
        result: Any,
    ) -> Any:
        # fn already ran (checkpoint needed its result to find the closed-over tensors); the
        # node keeps what a recomputation needs: fn, the inputs' values, the captured tensors.
        self.save_for_backward(*arrays[:n_args])
        self.fn, self.kwargs, self.n_args, self.tensor_positions = fn, kwargs, n_args, tensor_positions
        return result

    def backward(self, g: Any) -> tuple[Any, ...]:
        create_graph = is_grad_enabled()  # the engine records rules only under create_graph
        inputs = [v.data if isinstance(v, GraphTensor) else v for v in self.saved]
        wanted = [i for i in self.tensor_positions if self.needs_input_grad[i]]
        for i in self.tensor_positions:
            inputs[i] = Tensor(inputs[i], requires_grad=self.needs_input_grad[i], dtype=inputs[i].dtype)
        captured: list[Any] = list((self.edges or [])[self.n_args :])
        with enable_grad():
            out = self.fn(*inputs, **self.kwargs)
        leaves: list[Any] = [inputs[i] for i in wanted] + captured
        upstream = Tensor(g.data, requires_grad=True) if create_graph else g
        if out.requires_grad:
            grads = autograd.grad(out, leaves, grad_outputs=upstream, create_graph=create_graph)
        else:
            grads = (None,) * len(leaves)
        result: list[Any] = [None] * (self.n_args + len(captured))
        slots = wanted + list(range(self.n_args, len(result)))
        if not create_graph:
            for slot, gr in zip(slots, grads):
                result[slot] = None if gr is None else gr.data
            return tuple(result)
        # The recorded gradients hang off the recomputation's own leaves: re-attach them to
        # this node's inputs (and to g), so that the next derivative reaches the real graph.
        outer = [self.saved[i] for i in wanted] + captured + [g]
        for slot, gr in zip(slots, grads):
            result[slot] = _reconnect(gr, [*leaves, upstream], outer)
        return tuple(result)


def _reconnect(inner: Any, leaves: list[Any], outer: list[Any]) -> Any:
    """``inner`` (computed from ``leaves``) as a tensor of ``outer`` (same values, one per leaf)."""
    if inner is None or not inner.requires_grad:
        return inner
    return _Reconnect.apply(*outer, inner=inner, leaves=leaves, outer=outer)


class _Reconnect(Function):
    """y = inner, a Tensor recorded from ``leaves``, re-attached to ``outer`` (one tensor per
    leaf, holding the same values): d y / d outer[k] is d inner / d leaves[k]. Under
    create_graph its backward reconnects again, so every order of derivative is exact."""

    def forward(self, *arrays: Any, inner: Any, leaves: list[Any], outer: list[Any]) -> Any:
        self.inner, self.leaves, self.outer = inner, leaves, outer
        return inner.data

    def backward(self, g: Any) -> tuple[Any, ...]:
        create_graph = is_grad_enabled()
        upstream = Tensor(g.data, requires_grad=True) if create_graph else g
        grads = autograd.grad(
            self.inner, self.leaves, grad_outputs=upstream, retain_graph=True, create_graph=create_graph
        )
        if not create_graph:
            return tuple(None if gr is None else gr.data for gr in grads)
        return tuple(_reconnect(gr, [*self.leaves, upstream], [*self.outer, g]) for gr in grads)
