"""Model families built on tfmodels.layers."""
