"""Evaluation metrics: `recsys` (recall, MRR, hit rate, NDCG over full rankings)."""
