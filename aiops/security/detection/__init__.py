"""Anomaly detectors (network flows, UEBA, flow sequences) with comparable scores (1 − p).

Lazy: numpy, pyod and torch load with the detector that needs them.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["conformal_p", "flow_port", "NetworkConfig", "NetworkAnomalyDetector", "HostBaseline", "flow_features",
           "flow_tactic", "UebaConfig", "UebaDetector", "Profile", "SequenceConfig", "FlowSequenceDetector",
           "StackedIsolationForest", "PyodIForestScorer", "sigma_alert_signal", "PartCalibration",
           "NearestNeighbours", "FLOW_COLUMNS", "flow_matrix"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["conformal_p", "flow_port"], ".common"),
    **dict.fromkeys(["NetworkConfig", "NetworkAnomalyDetector", "HostBaseline", "flow_features", "flow_tactic"], ".network"),
    **dict.fromkeys(["UebaConfig", "UebaDetector", "Profile"], ".ueba"),
    **dict.fromkeys(["SequenceConfig", "FlowSequenceDetector"], ".sequence"),
    **dict.fromkeys(["StackedIsolationForest", "PyodIForestScorer"], ".forest_scoring"),
    **dict.fromkeys(["sigma_alert_signal"], ".sigma_alerts"),
    **dict.fromkeys(["PartCalibration", "NearestNeighbours"], ".calibration"),
    **dict.fromkeys(["FLOW_COLUMNS", "flow_matrix"], ".flow_features"),
})
