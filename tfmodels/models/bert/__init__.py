"""BERT (Devlin et al. 2019) on the shared layers, compatible with original checkpoints."""

from tfmodels.models.bert.checkpoint import (
    LoadReport,
    load_checkpoint,
    load_hf_safetensors,
    load_tf1_checkpoint,
    original_names,
    save_tf1_checkpoint,
)
from tfmodels.models.bert.config import BertConfig
from tfmodels.models.bert.heads import (
    BertPretrainingHeads,
    ClassifierHead,
    MaskedLMHead,
    NextSentenceHead,
    SpanHead,
    classification_loss,
    gather_indexes,
    masked_lm_loss,
    next_sentence_loss,
)
from tfmodels.models.bert.model import BertModel

__all__ = [
    "BertConfig",
    "BertModel",
    "BertPretrainingHeads",
    "ClassifierHead",
    "LoadReport",
    "MaskedLMHead",
    "NextSentenceHead",
    "SpanHead",
    "classification_loss",
    "gather_indexes",
    "load_checkpoint",
    "load_hf_safetensors",
    "load_tf1_checkpoint",
    "masked_lm_loss",
    "next_sentence_loss",
    "original_names",
    "save_tf1_checkpoint",
]
