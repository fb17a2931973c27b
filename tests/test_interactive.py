"""The interactive word heatmap's HTML: self-contained, its data the arrays given, bad input refused."""

import json
import re

import numpy as np
import pytest

from seedexplain.interactive import word_explorer


def test_the_explorer_is_self_contained_and_carries_every_seed():
    a = np.array([[0.5, -0.25, 1.0], [2.0, 2.5, 3.0]])
    page = word_explorer([("first", ["good", "</script>"], {"linear": a, "transformer": -a})], {"linear": "LR"})
    assert "http" not in page and "<script src" not in page  # nothing loaded from elsewhere
    data = json.loads(re.search(r'<script type="application/json">(.*?)</script>', page, re.S).group(1)
                      .replace("<\\/", "</"))
    assert data["families"] == [{"name": "linear", "label": "LR"}, {"name": "transformer", "label": "transformer"}]
    text = data["texts"][0]
    assert text["words"] == ["good", "</script>"] and text["scores"]["transformer"][1] == [-2.0, -2.5, -3.0]
    assert text["limits"]["linear"] == pytest.approx(2.5)  # the largest |mean over seeds|
    assert page.count("<script") == 2  # the data and the code, with the word's "</script>" escaped in the data


def test_bad_explorer_input_is_refused_naming_the_text():
    a = np.zeros((2, 3))
    with pytest.raises(ValueError, match="texts is empty"):
        word_explorer([], {})
    with pytest.raises(ValueError, match=r"text 'b', family 'linear': attributions of shape \(3, 3\)"):
        word_explorer([("a", ["x", "y"], {"linear": a}), ("b", ["x", "y"], {"linear": np.zeros((3, 3))})], {})
    with pytest.raises(ValueError, match="text 'b' has families"):
        word_explorer([("a", ["x", "y"], {"linear": a}), ("b", ["x", "y"], {"transformer": a})], {})
