"""The RWKV-7 (x070) network, numerically the same as the reference implementation.

Module and parameter names mirror the BlinkDL checkpoint keys (`blocks.3.att.receptance.weight`, ...), so
a checkpoint loads with a plain `load_state_dict`. Math: docs/rwkv7.md §1.

One set of weights, two forms:
  forward(tokens [B, T], state) — parallel form (prefill, training); the WKV recurrence runs through
                                   kernels.wkv7. While autograd records, the modules below run with the
                                   differentiable chunked kernel; without a graph (torch.no_grad) the
                                   inference form of model/prefill.py runs instead (the C kernel when
                                   it is available, in-place updates, and with last_only the final
                                   block only at the last position).
  step(tokens [B], state)       — recurrent one-token form (decode).
Both return logits and a *new* State; the input state is never modified in place, so a state can be
reused (a memory generation is one) and autograd can differentiate through it (state tuning).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kernels import native, wkv7
from model.config import RWKV7Config
from model.decode import DecodePlan, LayerPlan, layer_step
from model.prefill import layer_prefill
from model.state import State

# Decay is w = exp(-e^{-0.5} * sigmoid(d)), so log w = -e^{-0.5} * sigmoid(d), in (-0.6065, 0).
DECAY_SCALE = math.exp(-0.5)
GROUPNORM_EPS = 64e-5  # ln_x; the reference uses 64e-5, not the LayerNorm 1e-5
LAYERNORM_EPS = 1e-5


class TimeMix(nn.Module):
    """RWKV-7 time mixing ("att"): token shift, LoRA projections, WKV-7 and the bonus term."""

    def __init__(self, cfg: RWKV7Config, layer_id: int):
        super().__init__()
        C, H, N = cfg.n_embd, cfg.n_head, cfg.head_size
        self.layer_id = layer_id
        self.n_head, self.head_size = H, N

        def vec() -> nn.Parameter:
            return nn.Parameter(torch.zeros(1, 1, C))

        self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g = (vec() for _ in range(6))
        self.w0, self.a0, self.v0 = vec(), vec(), vec()
        self.w1 = nn.Parameter(torch.zeros(C, cfg.d_decay))  # LoRA, stored [in, out]
        self.w2 = nn.Parameter(torch.zeros(cfg.d_decay, C))
        self.a1 = nn.Parameter(torch.zeros(C, cfg.d_aaa))
        self.a2 = nn.Parameter(torch.zeros(cfg.d_aaa, C))
        self.v1 = nn.Parameter(torch.zeros(C, cfg.d_mv))  # unused in layer 0 (kept for checkpoint fidelity)
        self.v2 = nn.Parameter(torch.zeros(cfg.d_mv, C))
        self.g1 = nn.Parameter(torch.zeros(C, cfg.d_gate))
        self.g2 = nn.Parameter(torch.zeros(cfg.d_gate, C))
        self.k_k, self.k_a = vec(), vec()
        self.r_k = nn.Parameter(torch.zeros(H, N))
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=GROUPNORM_EPS)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, C] LN1 output
        shift: torch.Tensor,  # [B, C] LN1 output of the token before x[:, 0]
        wkv_state: torch.Tensor,  # [B, H, N, N]
        v_first: torch.Tensor | None,  # [B*T, C] layer 0's v, for the value residual
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        H, N = self.n_head, self.head_size
        prev = torch.cat([shift.unsqueeze(1), x[:, :-1]], dim=1) if T > 1 else shift.unsqueeze(1)
        # Token shift: x + (prev - x) * mix for the six mixes, as one fused lerp.  [6, B*T, C]
        mix = torch.cat([self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g]).view(6, 1, C)
        xr, xw, xk, xv, xa, xg = torch.lerp(x.reshape(1, B * T, C), prev.reshape(1, B * T, C), mix).unbind(0)

        r = self.receptance(xr)  # [B*T, C]
        d = torch.addmm(self.w0.view(1, C), torch.tanh(xw @ self.w1), self.w2)  # decay pre-activation
        k = self.key(xk)
        v = self.value(xv)
        a = torch.sigmoid(torch.addmm(self.a0.view(1, C), xa @ self.a1, self.a2))  # in-context learning rate
        g = torch.sigmoid(xg @ self.g1) @ self.g2

        kk = F.normalize((k * self.k_k.view(1, C)).view(B * T, H, N), dim=-1, p=2.0, eps=1e-12)  # removal key
        k = k * (1 + (a - 1) * self.k_a.view(1, C))  # replacement key
        if self.layer_id == 0:
            v_first = v
        else:
            assert v_first is not None
            v = torch.lerp(v, v_first, torch.sigmoid(torch.addmm(self.v0.view(1, C), xv @ self.v1, self.v2)))
        logw = torch.sigmoid(d) * -DECAY_SCALE  # log decay, in (-e^-0.5, 0)

        a_h = a.view(B * T, H, N)
        y, wkv_out = wkv7(
            r.view(B, T, H, N),
            logw.view(B, T, H, N),
            k.view(B, T, H, N),
            v.view(B, T, H, N),
            kk.neg().view(B, T, H, N),
            (kk * a_h).view(B, T, H, N),
            wkv_state,
            decay_floor=-DECAY_SCALE,
        )
        y = self.ln_x(y.reshape(B * T, C))
        # Bonus: the current token bypasses the state, u_h = (Σ_n r k r_k) v_h.
        rkr = ((r * k).view(B * T, H, N) * self.r_k).sum(dim=-1, keepdim=True)  # [B*T, H, 1]
        y = torch.addcmul(y.view(B * T, H, N), rkr, v.view(B * T, H, N)).view(B * T, C)
        return self.output(y * g).view(B, T, C), x[:, -1], wkv_out, v_first


class ChannelMix(nn.Module):
    """RWKV-7 channel mixing ("ffn"): token shift, squared-ReLU MLP, no receptance gate."""

    def __init__(self, cfg: RWKV7Config):
        super().__init__()
        C = cfg.n_embd
        self.x_k = nn.Parameter(torch.zeros(1, 1, C))
        self.key = nn.Linear(C, cfg.dim_ffn, bias=False)
        self.value = nn.Linear(cfg.dim_ffn, C, bias=False)

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: [B, T, C] LN2 output; shift: [B, C]
        T = x.shape[1]
        prev = torch.cat([shift.unsqueeze(1), x[:, :-1]], dim=1) if T > 1 else shift.unsqueeze(1)
        h = self.key(torch.lerp(x, prev, self.x_k))  # [B, T, F]
        # relu(h)^2; in place when no graph is being recorded (saves two passes over [B, T, 4C]).
        h = torch.relu(h).square() if torch.is_grad_enabled() else h.relu_().square_()
        return self.value(h), x[:, -1]


class Block(nn.Module):
    def __init__(self, cfg: RWKV7Config, layer_id: int):
        super().__init__()
        C = cfg.n_embd
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C, eps=LAYERNORM_EPS)  # extra norm on the embedding
        self.ln1 = nn.LayerNorm(C, eps=LAYERNORM_EPS)
        self.ln2 = nn.LayerNorm(C, eps=LAYERNORM_EPS)
        self.att = TimeMix(cfg, layer_id)
        self.ffn = ChannelMix(cfg)


class RWKV7(nn.Module):
    def __init__(self, cfg: RWKV7Config):
        super().__init__()
        self.config = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList([Block(cfg, i) for i in range(cfg.n_layer)])
        self.ln_out = nn.LayerNorm(cfg.n_embd, eps=LAYERNORM_EPS)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self._decode_plan: DecodePlan | None = None  # built on the first decode step

    # ---- helpers ------------------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        return self.emb.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.emb.weight.device

    def zero_state(self, batch: int = 1) -> State:
        return State.zeros(self.config, batch, dtype=self.dtype, device=self.device)

    # ---- parallel form ------------------------------------------------------------------------------
    def hidden(
        self, tokens: torch.Tensor, state: State | None = None, *, last_only: bool = False
    ) -> tuple[torch.Tensor, State]:
        """Final-layer hidden states (before ln_out) [B, T, C] (or [B, 1, C] with last_only) and the new
        state. last_only lets the inference form skip the final block's work at the other positions."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [B, T], got shape {tuple(tokens.shape)}")
        B, T = tokens.shape
        if T == 0:
            raise ValueError("tokens must contain at least one position")
        if state is None:
            state = self.zero_state(B)
        elif state.batch_size != B:
            if state.batch_size == 1:
                state = State(
                    state.att_shift.expand(-1, B, -1),
                    state.wkv.expand(-1, B, -1, -1, -1),
                    state.ffn_shift.expand(-1, B, -1),
                )
            else:
                raise ValueError(f"state batch {state.batch_size} does not match tokens batch {B}")

        if not torch.is_grad_enabled():
            return self._prefill(tokens, state, last_only)
        x = self.emb(tokens)  # [B, T, C]
        v_first = None
        att_shift, wkv_states, ffn_shift = [], [], []
        for i, block in enumerate(self.blocks):
            if i == 0:
                x = block.ln0(x)
            xa = block.ln1(x)
            dx, s_att, s_wkv, v_first = block.att(xa, state.att_shift[i], state.wkv[i], v_first)
            x = x + dx
            xf = block.ln2(x)
            dx, s_ffn = block.ffn(xf, state.ffn_shift[i])
            x = x + dx
            att_shift.append(s_att)
            wkv_states.append(s_wkv)
            ffn_shift.append(s_ffn)
        new_state = State(torch.stack(att_shift), torch.stack(wkv_states), torch.stack(ffn_shift))
        return (x[:, -1:] if last_only else x), new_state

    def _prefill(self, tokens: torch.Tensor, state: State, last_only: bool) -> tuple[torch.Tensor, State]:
        """`hidden` without an autograd graph: the inference form of model/prefill.py."""
        x = self.blocks[0].ln0(self.emb(tokens))  # [B, T, C], updated in place layer by layer
        wkv = torch.empty_like(state.wkv)
        att_shift = torch.empty_like(state.att_shift)
        ffn_shift = torch.empty_like(state.ffn_shift)
        v_first = None
        plans = self._plans()
        for i, plan in enumerate(plans):
            last = last_only and i == len(plans) - 1
            x, att_shift[i], wkv[i], ffn_shift[i], v_first = layer_prefill(
                plan, x, state.att_shift[i], state.wkv[i], state.ffn_shift[i], v_first, DECAY_SCALE, last
            )
        return x, State(att_shift, wkv, ffn_shift)

    def _plans(self) -> list[LayerPlan]:
        if self._decode_plan is None or self._decode_plan.model is not self:  # (a deepcopy carries the plan)
            self._decode_plan = DecodePlan(self)
        return self._decode_plan.get()

    def forward(
        self, tokens: torch.Tensor, state: State | None = None, *, last_only: bool = False
    ) -> tuple[torch.Tensor, State]:
        """tokens [B, T] -> logits [B, T, V] (or [B, V] with last_only) and the state after the last token."""
        x, new_state = self.hidden(tokens, state, last_only=last_only)
        if last_only:
            x = x[:, -1]
        return self.head(self.ln_out(x)), new_state

    # ---- recurrent form -----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One decode step: tokens [B] -> logits [B, V] and the new state (recurrent form)."""
        tokens = tokens.view(-1)
        B = tokens.shape[0]
        if state.batch_size != B:
            raise ValueError(f"state batch {state.batch_size} does not match tokens batch {B}")
        plans = self._plans()
        x = self.blocks[0].ln0(self.emb(tokens))  # [B, C]
        wkv = torch.empty_like(state.wkv)  # filled layer by layer; the input state is left untouched
        use_native = x.device.type == "cpu" and x.dtype == torch.float32 and native.available()
        v_first = None
        att_shift, ffn_shift = [], []
        layers = zip(
            plans,
            state.att_shift.unbind(0),
            state.wkv.unbind(0),
            state.ffn_shift.unbind(0),
            wkv.unbind(0),
            strict=True,
        )
        for plan, s_att, s_wkv, s_ffn, s_out in layers:
            x, xa, xf, v_first = layer_step(
                plan, x, s_att, s_wkv, s_ffn, v_first, s_out, DECAY_SCALE, use_native
            )
            att_shift.append(xa)
            ffn_shift.append(xf)
        new_state = State(torch.stack(att_shift), wkv, torch.stack(ffn_shift))
        return self.head(self.ln_out(x)), new_state
