"""From repeats to a measurement: the median, outliers counted (not dropped), and the report the sidecar keeps."""

from __future__ import annotations

from servecast.collect.stats import OutlierReport, PointTiming


def test_the_measurement_is_the_median_and_a_slow_repeat_is_an_outlier():
    timing = PointTiming((1.00, 1.02, 0.98, 1.01, 5.0))
    assert timing.median_ms == 1.01
    assert timing.outliers == 1


def test_timer_jitter_below_one_percent_is_not_an_outlier():
    assert PointTiming((1.0, 1.0, 1.0, 1.0, 1.005)).outliers == 0
    assert PointTiming((1.0, 1.0, 1.0, 1.0, 1.05)).outliers == 1


def test_the_report_names_the_noisiest_point():
    report = OutlierReport.of([("a", PointTiming((1.0, 1.0, 1.0))), ("b", PointTiming((1.0, 1.0, 1.0, 3.0, 4.0)))])
    assert (report.points, report.noisy_points, report.worst_point, report.worst_outliers) == (2, 1, "b", 2)
    assert "1 of 2 points" in report.sentence() and "2 of 5 at b" in report.sentence()
    assert "none in 1 points" in OutlierReport.of([("a", PointTiming((1.0, 1.0)))]).sentence()
