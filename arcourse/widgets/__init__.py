"""Interactive panels for teaching in class: one per lecture (ipywidgets is imported only
when a panel is built).

Every panel follows one pattern: controls (sliders, boxes, menus) beside what they do to a
real model or distribution. All state lives in plain attributes, recomputed by `update()`,
which every control calls when it changes; so tests and notebooks drive a panel by setting
`panel.<control>.value` and read what it shows (`panel.readout` and the named attributes),
with no browser. Show a panel with `panel.widget`.

    01 ChainRulePanel       the chain rule in any order: conditionals, parameters, the rebuilt joint
    02 InformationPanel     H(p), H(p, q), KL and perplexity as q moves against p
    03 CharModelPanel       a trained char model: prefix -> hidden states, next character, samples
    04 PixelPanel           a PixelCNN completes a digit from its top rows
    05 ReceptiveFieldPanel  dilations and layers -> receptive field from input gradients; audio
    06 AttentionPanel       a GPT's attention weights per layer/head, and its KV cache
    07 DecodingPanel        temperature, top-k, top-p on a trained model
    08 SpeculativePanel     draft quality and k -> acceptance, tokens per target call, time

`from_checkpoint()` on a panel builds it around the shipped checkpoint its lecture uses.
"""
from arcourse.widgets.attention import AttentionPanel
from arcourse.widgets.chain_rule import ChainRulePanel, Conditional, default_joint, factorise
from arcourse.widgets.char_model import CharModelPanel
from arcourse.widgets.decoding import DecodingPanel, NextTokenView, next_token_view
from arcourse.widgets.information import InformationPanel
from arcourse.widgets.pixels import PixelPanel
from arcourse.widgets.receptive_field import ReceptiveFieldPanel
from arcourse.widgets.speculative import SpeculativePanel

__all__ = [
    "AttentionPanel",
    "ChainRulePanel",
    "CharModelPanel",
    "Conditional",
    "DecodingPanel",
    "InformationPanel",
    "NextTokenView",
    "PixelPanel",
    "ReceptiveFieldPanel",
    "SpeculativePanel",
    "default_joint",
    "factorise",
    "next_token_view",
]
