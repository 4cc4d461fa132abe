"""Failure models behind one interface: trees (XGBoost, forest), sequence nets (LSTM, Transformer),
survival (time to failure) and their size/latency optimisation. Exports load lazily (torch, xgboost)."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

_EXPORTS = {
    "Factor": ".base",
    "subsample_negatives": ".base",
    "prior_correct": ".base",
    "Schema": ".base",
    "FailureModel": ".trees",  # via trees, so loading a saved tree model finds its kind registered
    "plain_value": ".base",
    "UNKNOWN": ".base",
    "prunable_weights": ".optimise",
    "prune_network": ".optimise",
    "sparsity": ".optimise",
    "quantize_model": ".optimise",
    "prune_model": ".optimise",
    "prune_then_quantize": ".optimise",
    "serialized_bytes": ".optimise",
    "cpu_latency_ms": ".optimise",
    "holdout_metrics": ".optimise",
    "gate": ".optimise",
    "VariantResult": ".optimise",
    "OptimisationReport": ".optimise",
    "GATE_METRICS": ".optimise",
    "DEFAULT_VARIANTS": ".optimise",
    "SequenceParams": ".sequence",
    "SequenceFailureModel": ".sequence",
    "LSTMFailureModel": ".sequence",
    "TransformerFailureModel": ".sequence",
    "LABEL_LIKE": ".sequence",
    "WindowScaler": ".sequence_nets",
    "resolve_device": ".sequence_nets",
    "LSTMNet": ".sequence_nets",
    "TransformerNet": ".sequence_nets",
    "integrated_gradients": ".sequence_nets",
    "cpu_state": ".sequence_nets",
    "quantize_network": ".sequence_nets",
    "dequantized_copy": ".sequence_nets",
    "AFTParams": ".survival",
    "TimeToFailure": ".survival",
    "SurvivalModel": ".survival",
    "interval_coverage": ".survival",
    "XGBoostParams": ".trees",
    "XGBoostFailureModel": ".trees",
    "ForestParams": ".trees",
    "RandomForestFailureModel": ".trees",
    "make_model": ".trees",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
