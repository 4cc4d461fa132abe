"""Fleet failure prediction on simulator telemetry: point-in-time dataset, leak-free splits, episode evaluation."""
