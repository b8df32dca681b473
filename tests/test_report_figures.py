"""The report's inline pictures: what they draw matches the numbers they are given."""

from __future__ import annotations

import re

import numpy as np


def test_confusion_heat_grid_writes_every_count_and_shades_by_the_true_class_share():
    from calliper.core.landuse.figures import confusion_svg

    svg = confusion_svg([[8, 2], [0, 5]], ["grass", "retail"])
    counts = [int(v) for v in re.findall(r'fill="#[0-9a-f]{3}">(\d+)</text>', svg)]
    assert counts == [8, 2, 0, 5]
    shades = re.findall(r'<rect x="\d+" y="\d+" width="34" height="34" fill="(#[0-9a-f]{6})"', svg)
    assert shades[3] == "#08306b" and shades[2] == "#f7fbff"  # 5 of 5 is the darkest, 0 of 5 white
    assert ">grass</text>" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_the_test_map_draws_one_dot_per_unit_in_its_colour_with_a_round_scale_bar():
    from calliper.core.landuse.figures import RIGHT, TRAINED, WRONG, scale_bar, test_map_svg

    part = np.array([0] * 7 + [1] * 3 + [2] * 2)
    svg = test_map_svg(np.arange(12) * 100.0, np.zeros(12), part)
    assert [svg.count(f'fill="{c}" fill-opacity') for c in (TRAINED, RIGHT, WRONG)] == [7, 3, 2]
    assert ">200 m</text>" in svg  # 1.1 km across: the largest 1-2-5 length within a quarter
    assert [scale_bar(span) for span in (90.0, 3000.0, 12000.0)] == [20.0, 500.0, 2000.0]
