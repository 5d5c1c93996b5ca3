"""Evaluation metrics: `recsys` (recall, MRR, hit rate, NDCG over full rankings), `squad`
(official SQuAD v1.1/v2.0), `classification` (F1, MCC, Pearson, Spearman)."""
