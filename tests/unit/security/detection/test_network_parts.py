"""The network detector's parts add up: calibrated on benign, unknown sources not penalised, combination ≥ parts."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from aiops.security.detection.calibration import NearestNeighbours, PartCalibration, proxy_weights, tail_p
from aiops.security.detection.common import conformal_p
from aiops.security.detection.network import NetworkAnomalyDetector, NetworkConfig
from aiops.security.parsers.platform_events import flow_event

T0 = 1_767_225_600.0


def flows(n: int, rng: np.random.Generator, hosts: int = 8, host: str | None = None) -> list:
    """Benign-like flows with every field a full exporter gives (protocol, duration, packets, ports)."""
    out = []
    for i in range(n):
        h = int(rng.integers(hosts))
        name = host or f"h{h}"
        po = int(rng.integers(2, 40))
        out.append(flow_event({"ts": T0 + i, "host": name, "src_ip": f"10.0.0.{h + 1}",
                               "dst_ip": f"10.1.{rng.integers(256)}.{rng.integers(1, 255)}",
                               "dst_port": int(rng.choice([443, 5432, 53])), "src_port": int(rng.integers(32768, 61000)),
                               "protocol": "tcp", "duration": float(rng.lognormal(0, 1)), "packets_out": po,
                               "packets_in": po + int(rng.integers(0, 5)), "bytes_out": int(po * rng.lognormal(6, 0.3)),
                               "bytes_in": int(po * rng.lognormal(7, 0.3))}))
    return out


def test_alert_level_means_its_false_alarm_rate_on_benign_flows():
    rng = np.random.default_rng(0)
    det = NetworkAnomalyDetector(NetworkConfig(batch=10_000))
    det.fit(flows(4000, rng))
    p = det.part_p_values(flows(6000, rng))
    for key in ("combined", "iforest", "knn"):
        assert 0.004 <= np.mean(p[key] <= 0.01) <= 0.016, key
        assert 0.05 <= np.mean(p[key] <= 0.1) <= 0.15, key
    assert 1.0 - p["combined"].min() < 1.0  # never exactly 1.0: a conformal p-value is at least 1/(n+1)


def test_a_source_without_history_is_unknown_not_guilty():
    rng = np.random.default_rng(1)
    det = NetworkAnomalyDetector(NetworkConfig(batch=10_000))
    det.fit(flows(4000, rng))
    same = flows(2000, rng)
    known = det.part_p_values(same)
    for e in same:
        e.host = "never-seen"
    unknown = det.part_p_values(same)
    assert np.isnan(unknown["host_bytes"]).all() and not np.isnan(known["host_bytes"]).any()
    # the same flows from an unseen source are neither more nor less often alarming
    assert abs(np.mean(unknown["combined"] <= 0.01) - np.mean(known["combined"] <= 0.01)) < 0.01
    assert abs(np.median(unknown["combined"]) - np.median(known["combined"])) < 0.08


def test_combination_ranks_at_least_as_well_as_its_best_part():
    rng = np.random.default_rng(2)
    det = NetworkAnomalyDetector(NetworkConfig(batch=10_000))
    det.fit(flows(4000, rng))
    benign = flows(3000, rng)
    # attacks unusual to different parts: huge uploads (shape) and an unusual port for its host (host part)
    shape_odd = flows(60, rng)
    for e in shape_odd:
        e.fields["bytes_out"] *= 400
    port_odd = flows(60, rng)
    for e in port_odd:
        e.fields["dst_port"] = 22
    attacks = shape_odd + port_odd
    pb, pa = det.part_p_values(benign), det.part_p_values(attacks)
    y = np.r_[np.zeros(len(benign)), np.ones(len(attacks))]

    def auc(key: str) -> float:
        return roc_auc_score(y, -np.nan_to_num(np.r_[pb[key], pa[key]], nan=1.0))

    best = max(auc(k) for k in ("iforest", "knn", "host_bytes", "host_port"))
    assert auc("combined") >= best - 0.005
    assert np.mean(pa["combined"] <= 0.01) > 0.9


def test_part_calibration_round_trips_and_falls_back_to_bonferroni():
    rng = np.random.default_rng(3)
    cal = PartCalibration("min")
    a = cal.add_part("a", rng.normal(size=200))
    b = cal.add_part("b", rng.normal(size=200))
    cal.add_set("ab", [a, b], [1.0, 0.25])
    again = PartCalibration.from_arrays(cal.to_arrays())
    ps = [np.array([0.02, 0.5]), np.array([0.3, 0.01])]
    assert again.method == "min" and np.array_equal(again.combine("ab", ps), cal.combine("ab", ps))
    assert np.array_equal(again.weights["ab"], [1.0, 0.25])
    assert np.array_equal(cal.combine("none", ps), np.array([0.04, 0.02]))
    # a missing part (NaN) is not counted in the Bonferroni factor
    assert np.array_equal(cal.combine("none", [np.array([0.02]), np.array([np.nan])]), np.array([0.02]))


def test_a_missing_part_adds_its_benign_mean_and_weights_scale_parts():
    cal = PartCalibration("fisher")
    p = np.array([0.1, 0.001])
    missing = np.full(2, np.nan)
    # Fisher: −log U has mean 1 under benign traffic, so a missing part adds its weight
    assert np.allclose(cal.statistic([p, missing], np.array([1.0, 0.5])), -np.log(p) + 0.5)
    assert np.allclose(cal.statistic([p, p], np.array([1.0, 0.0])), -np.log(p))


def test_tail_p_is_conformal_inside_and_keeps_ranking_beyond_the_calibration_maximum():
    cal = np.sort(np.random.default_rng(5).exponential(size=400))
    inside = np.linspace(cal[0], cal[-1], 50)
    assert np.array_equal(tail_p(cal, inside), conformal_p(cal, inside))
    beyond = cal[-1] + np.array([0.5, 1.0, 5.0])
    p = tail_p(cal, beyond)
    assert (p <= 1.0 / 401).all() and (np.diff(p) < 0).all() and (p > 0).all()


def test_proxy_weights_favour_the_part_that_tells_mixed_flows_apart():
    rng = np.random.default_rng(6)
    cal = rng.normal(size=500)
    sharp, blind = rng.normal(2.0, 1.0, size=500), rng.normal(size=500)
    w = proxy_weights([cal, cal, cal], [sharp, sharp.copy(), blind])
    assert w[0] == w[1] == 1.0 and w[2] < 0.01


def test_tree_neighbours_equal_the_brute_force_distances():
    rng = np.random.default_rng(7)
    train, x = rng.normal(size=(400, 6)), rng.normal(size=(50, 6)) * 2
    nn = NearestNeighbours(train, 5)
    z, ref = (x - nn.mu) / nn.sd, nn.ref
    d = np.sqrt(((z[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
    assert np.allclose(nn(x), np.sort(d, axis=1)[:, :5].mean(axis=1))
    dr = np.sqrt(((ref[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
    assert np.allclose(nn.leave_one_out(), np.sort(dr, axis=1)[:, 1:6].mean(axis=1))
    again = NearestNeighbours.from_arrays(nn.to_arrays())
    assert np.array_equal(again(x), nn(x))
