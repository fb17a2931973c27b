"""Conservative LRP for BERT-type encoders and Llama-type decoders, as gradient×input on a locally linearised
network.

Ali et al. (2022, "XAI for Transformers: better explanations through conservative propagation") show that
gradient×input through a transformer is conservative once two non-linearities are treated as constants in the
backward pass: the attention weights ``softmax(QKᵀ/√d)`` (the AH rule) and the standard deviation of every
LayerNorm (the LN rule). The elementwise activations (GELU in the feed-forward blocks, tanh in BERT's pooler,
SiLU in Llama's) are handled with the identity rule of AttnLRP (Achtibat et al. 2024): their relevance passes
through unchanged, i.e. the backward pass sees ``act(x) = x · [act(x)/x]`` with the bracket constant.

A Llama decoder needs two more rules, isolated in their own modules below: its RMSNorm ``w · x / rms(x)`` gets the
LN rule without centring (``1/rms(x)`` constant), and its gated feed-forward block ``down(act(gate(x)) · up(x))``
multiplies two branches that both depend on the input, so gradient×input would count the product's relevance
twice; the uniform rule of AttnLRP gives each factor half of it (the backward pass sees
``½(a · [b]) + ½([a] · b)``, brackets constant). Rotary position embeddings rotate queries and keys, which only
reach the constant attention weights: they need no rule. Grouped key-value heads are shared, not changed.

With those constants the network is *linear* in its additive inputs, so by Euler's theorem

    f(x) = Σ_t (W_t + P_t) + R_bias,    W_t = w[t] · ∂f/∂x0[t],    P_t = (p[t] + s[t]) · ∂f/∂x0[t],
    R_bias = Σ_b b · ∂f/∂b

exactly (up to float32 rounding), where ``x0[t]`` is token ``t``'s input vector to the first layer that mixes
tokens: in an encoder, the input to the embedding LayerNorm, ``w[t] + p[t] + s[t]``, the sum of its word,
position and token-type (segment) embeddings; in a decoder, its word embedding alone (``P_t = 0``: positions are
rotary, there are no segments). ``b`` runs over every bias that is added on the way: the biases of all
``nn.Linear`` layers and the β of all LayerNorms (Llama has none). Query and key biases get no relevance (they only
reach the constant attention weights). A token's relevance is its word-embedding part ``W_t`` — the same input as
gradient × input, so that the two methods differ only in what the backward pass treats as constant; the
position/type part ``P_t`` belongs to the token's place, not to its word, and is returned apart, with ``R_bias``
and the special tokens' share, so that the identity can be checked.

The forward values are untouched: each modified module returns its original output plus a term that is exactly
zero but carries the modified gradient (``y.detach() + (z − z.detach())``), and the attention function
reproduces the eager operations in the same order (:func:`seedexplain.forward.attention_override`). The
modifications live only inside :func:`conservative_lrp`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle
from transformers import PreTrainedModel
from transformers.activations import ACT2CLS
from transformers.models.llama.modeling_llama import LlamaMLP, LlamaRMSNorm

from seedexplain.attribution.encoding import Batch
from seedexplain.attribution.gradient import Explainer
from seedexplain.forward import DECODER_TYPES, attention_override, is_decoder, logit_difference

# Elementwise activations that get the identity rule: every class transformers' ACT2FN can build, and tanh.
_ACTIVATIONS = tuple({entry[0] if isinstance(entry, tuple) else entry for entry in ACT2CLS.values()}
                     | {nn.Tanh})


def _constant_weights(module: nn.Module, weights: torch.Tensor) -> torch.Tensor:
    """Return the attention weights detached: the backward pass treats them as constants (AH rule)."""
    return weights.detach()


def _same_value(value: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
    """Return a tensor equal to ``value`` whose gradient is that of ``linear`` (``linear − linear`` is 0)."""
    return value.detach() + (linear - linear.detach())


class ConstantStdLayerNorm(nn.Module):
    """A LayerNorm whose standard deviation is constant in the backward pass (LN rule); same outputs."""

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(-len(self.norm.normalized_shape), 0))
        std = torch.sqrt(x.var(dim=dims, unbiased=False, keepdim=True) + self.norm.eps).detach()
        linear = (x - x.mean(dim=dims, keepdim=True)) / std
        if self.norm.weight is not None:
            linear = linear * self.norm.weight
        if self.norm.bias is not None:
            linear = linear + self.norm.bias
        return _same_value(self.norm(x), linear)


class IdentityRule(nn.Module):
    """An elementwise activation whose relevance passes through unchanged (AttnLRP identity rule)."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.activation(x)
        ratio = torch.where(x == 0, torch.zeros_like(x), y / x).detach()
        return _same_value(y, x * ratio)


class ConstantRmsNorm(nn.Module):
    """A Llama RMSNorm whose ``1/rms(x)`` is constant in the backward pass (LN rule, no centring); same outputs."""

    def __init__(self, norm: LlamaRMSNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = x.to(torch.float32)  # as the module computes it
        scale = torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + self.norm.variance_epsilon).detach()
        return _same_value(self.norm(x), self.norm.weight * (wide * scale).to(x.dtype))


def _uniform_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return ``a * b`` whose backward pass gives each factor half of the product's relevance (uniform rule)."""
    return _same_value(a * b, 0.5 * (a * b.detach()) + 0.5 * (a.detach() * b))


class UniformRuleGatedMLP(nn.Module):
    """A gated feed-forward block ``down(act(gate(x)) * up(x))`` whose product splits its relevance evenly
    between the two branches (uniform rule); same outputs."""

    def __init__(self, mlp: LlamaMLP) -> None:
        super().__init__()
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mlp = self.mlp
        return mlp.down_proj(_uniform_product(mlp.act_fn(mlp.gate_proj(x)), mlp.up_proj(x)))


def _replacement(module: nn.Module) -> nn.Module | None:
    if isinstance(module, nn.LayerNorm):
        return ConstantStdLayerNorm(module)
    if isinstance(module, _ACTIVATIONS):
        return IdentityRule(module)
    if isinstance(module, LlamaRMSNorm):
        return ConstantRmsNorm(module)
    if isinstance(module, LlamaMLP):
        return UniformRuleGatedMLP(module)
    return None


@contextmanager
def conservative_lrp(model: PreTrainedModel) -> Iterator[PreTrainedModel]:
    """Within the block, ``model``'s gradients follow the conservative LRP rules; its outputs do not change.

    Swaps every ``nn.LayerNorm``, RMSNorm, gated feed-forward block and activation module for a wrapper and
    detaches the attention weights (:func:`seedexplain.forward.attention_override`); everything is restored on
    exit, even after an error.
    """
    swapped = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            replacement = _replacement(child)
            if replacement is not None:
                setattr(parent, name, replacement)
                swapped.append((parent, name, child))
    try:
        with attention_override(model, _constant_weights):
            yield model
    finally:
        for parent, name, child in reversed(swapped):
            setattr(parent, name, child)


def _embedding_norm(model: PreTrainedModel) -> nn.Module:
    embeddings = getattr(model.base_model, "embeddings", None)
    norm = getattr(embeddings, "LayerNorm", None)
    if norm is None:
        raise TypeError("method='lrp' supports BERT-type encoders (with embeddings.LayerNorm) and the decoders "
                        f"{', '.join(DECODER_TYPES)}; got {type(model).__name__}")
    return norm


def _capture_relevance_input(model: PreTrainedModel, captured: list[torch.Tensor]) -> RemovableHandle:
    """Hook the module whose tensor is ``x0`` (see the module's docstring): append it to ``captured`` as a leaf
    that requires grad (cutting the graph there: weights need no gradient); return the hook's handle."""
    def leaf(x: torch.Tensor) -> torch.Tensor:
        captured.append(x.detach().requires_grad_())
        return captured[-1]

    if is_decoder(model):  # word embeddings go straight into the first block
        return model.get_input_embeddings().register_forward_hook(lambda module, args, output: leaf(output))
    # an encoder adds position and type embeddings, then normalises: x0 is the norm's input
    return _embedding_norm(model).register_forward_pre_hook(lambda module, args: (leaf(args[0]), *args[1:]))


def relevance_decomposition(model: PreTrainedModel, input_ids: torch.Tensor,
                            attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return the conservative-LRP decomposition of ``f`` for a batch; call inside :func:`conservative_lrp`.

    Keys: ``"tokens"`` ``(B, L)`` the relevance of each token's word embedding (``W_t``), ``"position_type"``
    ``(B, L)`` that of its position and type embeddings (``P_t``), ``"bias"`` ``(B,)`` the relevance of all
    biases, ``"f"`` ``(B,)`` the explained logit difference. Conservation:
    ``tokens.sum(1) + position_type.sum(1) + bias == f`` up to float rounding.
    """
    captured: list[torch.Tensor] = []
    biased: list[tuple[torch.Tensor, torch.Tensor]] = []

    def capture_bias(module: nn.Module, args: object, output: torch.Tensor) -> None:
        bias = module.bias if isinstance(module, nn.Linear) else module.norm.bias
        if bias is not None and output.requires_grad:
            biased.append((output, bias.detach()))

    hooks = [_capture_relevance_input(model, captured)]
    hooks += [m.register_forward_hook(capture_bias) for m in model.modules()
              if isinstance(m, (nn.Linear, ConstantStdLayerNorm))]
    try:
        f = logit_difference(model, input_ids, attention_mask)
    finally:
        for hook in hooks:
            hook.remove()
    x0 = captured[0]
    gradients = torch.autograd.grad(f.sum(), [x0, *(out for out, _ in biased)], allow_unused=True)
    bias = torch.zeros_like(f)
    for (_, b), grad in zip(biased, gradients[1:]):
        if grad is not None:
            bias = bias + (grad * b).reshape(len(f), -1, b.numel()).sum(dim=(1, 2))
    with torch.no_grad():
        word = model.get_input_embeddings()(input_ids)
    return {"tokens": (word * gradients[0]).sum(-1), "position_type": ((x0 - word) * gradients[0]).sum(-1),
            "bias": bias, "f": f.detach()}


def lrp(model: PreTrainedModel) -> Explainer:
    """Return the explainer of conservative-LRP token relevances (signed, the word-embedding part ``W_t``), one
    array ``(n_tokens,)`` per text.

    Extras per text: ``logit_diff`` (f), ``relevance_bias`` (R_bias), ``relevance_special`` (the word-embedding
    part of the tokens that belong to no word: [CLS], [SEP], a decoder's beginning-of-text token) and
    ``relevance_position_type`` (Σ_t P_t over every token; 0 for a decoder, whose positions are rotary). Conservation:
    Σ words + special + position_type + bias = f.
    """
    if not is_decoder(model):
        _embedding_norm(model)  # an unsupported encoder fails here, before any work

    def explain(batch: Batch) -> list[tuple[np.ndarray, dict]]:
        with conservative_lrp(model):
            parts = relevance_decomposition(model, batch.input_ids, batch.attention_mask)
        parts = {name: value.detach().double().cpu().numpy() for name, value in parts.items()}
        results = []
        for row, text in enumerate(batch.texts):
            tokens = parts["tokens"][row, : text.n_tokens]
            extras = {"logit_diff": float(parts["f"][row]), "relevance_bias": float(parts["bias"][row]),
                      "relevance_special": float(tokens[text.token_word < 0].sum()),
                      "relevance_position_type": float(parts["position_type"][row, : text.n_tokens].sum())}
            results.append((tokens, extras))
        return results

    return explain
