"""Detectors: conformal calibration, network anomalies, UEBA rarity and warm-up."""
from __future__ import annotations

import numpy as np

from aiops.security.correlation.entities import AssetMap, EntityResolver
from aiops.security.detection.network import NetworkAnomalyDetector, NetworkConfig
from aiops.security.detection.ueba import UebaConfig, UebaDetector
from aiops.security.detection.common import conformal_p
from aiops.security.events import LogSource, SecurityEvent
from aiops.security.parsers.platform_events import flow_event

T0 = 1_767_225_600.0
AUTH = LogSource(product="linux", service="sshd")


def test_conformal_p_is_rank_based():
    cal = np.sort(np.arange(99, dtype=float))
    p = conformal_p(cal, np.array([-1.0, 49.0, 98.0, 1000.0]))
    assert p[0] == 1.0 and p[-1] == 1 / 100
    assert np.all(np.diff(p) <= 0)


def flows(n, rng, hosts=10):
    out = []
    for i in range(n):
        h = int(rng.integers(hosts))
        out.append(flow_event({"ts": T0 + i, "host": f"h{h}", "src_ip": f"10.0.0.{h + 1}",
                               "dst_ip": f"10.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(1, 255)}",
                               "dst_port": int(rng.choice([443, 5432, 6379])), "bytes_out": int(rng.lognormal(10, 1.5)),
                               "bytes_in": int(rng.lognormal(11, 1.5))}))
    return out


def test_network_detector_flags_exfiltration_and_is_calibrated():
    rng = np.random.default_rng(0)
    det = NetworkAnomalyDetector(NetworkConfig(warmup_flows=2000, batch=10_000))
    for ev in flows(2000, rng):
        det.observe(ev)
    assert det.ready
    benign = flows(3000, rng)
    sigs = det.score(benign, min_score=0.99)
    # calibrated: about 1 % of benign flows may reach 0.99 (p ≤ 0.01, Bonferroni makes it conservative)
    assert len(sigs) / len(benign) < 0.02
    exfil = flow_event({"ts": T0 + 9999, "host": "h3", "src_ip": "10.0.0.4", "dst_ip": "198.51.100.7", "dst_port": 443,
                        "bytes_out": 5_000_000_000, "bytes_in": 4000})
    lateral = flow_event({"ts": T0 + 9999, "host": "h3", "src_ip": "10.0.0.4", "dst_ip": "10.0.0.9", "dst_port": 22,
                          "bytes_out": 20_000, "bytes_in": 4000})
    s_ex, s_lat = det.score([exfil, lateral], min_score=0.0)
    assert s_ex.score >= 0.999 and s_ex.tactics == ("exfiltration",)
    assert s_lat.tactics == ("lateral_movement",) and s_lat.score >= 0.99


def auth(ts, host, user, ip, outcome="success", action="ssh_login"):
    return SecurityEvent(timestamp=T0 + ts, source="auth", logsource=AUTH, host=host, user=user, src_ip=ip,
                         action=action, outcome=outcome)


def test_ueba_warmup_abstains_then_flags_rare_source():
    det = UebaDetector(UebaConfig(warmup=20, population_warmup=50))
    # warm-up: nothing to compare with yet, no signals even for odd values
    assert det.observe(auth(0, "h1", "carol", "192.0.2.9")) == []
    for k in range(400):
        det.observe(auth(10 + k, f"h{k % 5}", ["alice", "bob"][k % 2], f"10.200.0.{k % 200 + 1}"))
    # usual behaviour is not rare
    assert det.observe(auth(1000, "h1", "alice", "10.200.0.77")) == []
    # a login from a network never used by anyone on the fleet: rare (the population backs off the entity)
    s = det.observe(auth(1001, "h1", "alice", "203.0.113.50"))
    assert s and s[0].score >= 0.99 and s[0].tactics == ("initial_access",)
    assert 0.0 <= s[0].score <= 1.0


def test_ueba_good_turing_new_values_of_a_noisy_attribute_are_not_rare():
    det = UebaDetector(UebaConfig(warmup=20, population_warmup=50))
    # svc user touches a new VM almost every call: a new VM is the norm, not an anomaly
    for k in range(300):
        det.observe(SecurityEvent(timestamp=T0 + k * 3600 / 12, source="novacron", logsource=LogSource(product="novacron"),
                                  user="svc-a", vm_id=f"vm-{k}", action="GetVM", outcome="success"))
    got = det.observe(SecurityEvent(timestamp=T0 + 90_000, source="novacron", logsource=LogSource(product="novacron"),
                                    user="svc-a", vm_id="vm-new", action="GetVM", outcome="success"))
    assert got == []
    got = det.observe(SecurityEvent(timestamp=T0 + 90_001, source="novacron", logsource=LogSource(product="novacron"),
                                    user="svc-a", vm_id="vm-3", action="DeleteVM", outcome="success"))
    assert got and got[0].tactics == ("impact",)


def test_lateral_login_from_a_fleet_host_is_tagged_lateral():
    assets = AssetMap({"10.0.0.2": "h1"})
    det = UebaDetector(UebaConfig(warmup=5, population_warmup=20), EntityResolver(assets))
    for k in range(100):
        det.observe(auth(k, f"h{k % 4}", "alice", "10.200.0.5"))
    s = det.observe(auth(200, "h2", "root", "10.0.0.2"))
    assert s and s[0].tactics == ("lateral_movement",)
    assert "host:h1" in s[0].entities and "host:h2" in s[0].entities  # IP resolved to its host: a pivot edge


def test_gru_sequence_model_flags_out_of_character_flows():
    from aiops.security.detection.sequence import FlowSequenceDetector, SequenceConfig

    rng = np.random.default_rng(1)
    warm = flows(3000, rng, hosts=12)
    det = FlowSequenceDetector(SequenceConfig(epochs=3, max_train_windows=2000, hidden=16))
    info = det.fit(warm)
    assert info["calib_windows"] > 500
    normal = flows(300, rng, hosts=12)
    scored = [s for s in det.score(normal) if s is not None]
    assert scored and sum(s.score >= 0.99 for s in scored) / len(scored) < 0.05
    lateral = flow_event({"ts": T0 + 9999, "host": "h3", "src_ip": "10.0.0.4", "dst_ip": "10.0.0.9", "dst_port": 22,
                          "bytes_out": 20_000, "bytes_in": 4000})
    (s,) = det.score([lateral])
    assert s is not None and s.kind == "sequence" and s.score >= 0.99


def test_stacked_forest_scores_equal_pyod_and_small_batches_flush_on_event_time():
    from pyod.models.iforest import IForest

    from aiops.security.detection.forest_scoring import PyodIForestScorer

    rng = np.random.default_rng(4)
    x = rng.normal(size=(1500, 5))
    x[:, 3] = x[:, 3] > 0  # a binary column, like "destination external"
    model = IForest(n_estimators=50, random_state=0, n_jobs=1).fit(x[:500])
    scorer = PyodIForestScorer(model)
    assert scorer.stacked is not None
    y = np.vstack([x[500:], rng.normal(size=(20, 5)) * 10])
    assert np.array_equal(scorer(y), model.decision_function(y))
    assert scorer(y[:0]).shape == (0,)
    # out-of-bag: each training row scored by the trees that did not draw it, through scikit-learn's own trees
    from sklearn.ensemble._iforest import _average_path_length

    forest, train = model.detector_, x[:500]
    paths = np.zeros((len(forest.estimators_), len(train)))
    for t, (est, cols) in enumerate(zip(forest.estimators_, forest.estimators_features_)):
        sub = train[:, cols].astype(np.float32)
        leaves = est.apply(sub)
        paths[t] = (np.asarray(est.decision_path(sub).sum(axis=1)).ravel()
                    + _average_path_length(est.tree_.n_node_samples[leaves]) - 1.0)
    drawn = np.zeros_like(paths, bool)
    for t, rows in enumerate(forest.estimators_samples_):
        drawn[t, rows] = True
    oob_mean = np.where(drawn, 0.0, paths).sum(axis=0) / (~drawn).sum(axis=0)
    expected = 2.0 ** (-oob_mean / _average_path_length([forest._max_samples])[0]) + forest.offset_
    assert np.allclose(scorer.out_of_bag(train), expected)

    det = NetworkAnomalyDetector(NetworkConfig(warmup_flows=500, batch=10_000, max_delay_s=3600, max_span_s=60))
    for ev in flows(500, rng):
        det.observe(ev)
    late = flows(3, rng)
    for ev in late:
        det.observe(ev)
    assert not det.due(event_ts=late[0].timestamp + 59) and det.due(event_ts=late[0].timestamp + 60)
