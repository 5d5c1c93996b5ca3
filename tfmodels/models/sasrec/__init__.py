"""SASRec (Kang & McAuley, ICDM 2018), faithful to kang205/SASRec on the shared layers."""

from tfmodels.models.sasrec.losses import bce_loss, pairwise_auc, softmax_ce_loss
from tfmodels.models.sasrec.model import SASRec, SASRecBlock

__all__ = ["SASRec", "SASRecBlock", "bce_loss", "pairwise_auc", "softmax_ce_loss"]
