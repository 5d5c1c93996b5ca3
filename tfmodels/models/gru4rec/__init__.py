"""GRU4Rec (session-based recommendation with RNNs), faithful to the official algorithm."""
