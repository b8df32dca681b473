"""Each distinct text is encoded once, ever: the on-disk cache answers the second time."""

from __future__ import annotations

import numpy as np
import pytest
from calliper.core.errors import TextModelError
from calliper.core.text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct, resolve_text_model


def test_second_encoding_of_the_same_texts_encodes_nothing_and_matches(tmp_path):
    cache = TextEmbeddingCache(tmp_path)
    encoder = TextEncoder()
    texts = ["A place of bar, a type of amenity", "A place of library, a type of amenity", "A place of pub"]
    first, n_first = encode_distinct(texts, encoder, cache)
    second, n_second = encode_distinct(list(reversed(texts)) + ["A place of zoo"], encoder, cache)
    assert (n_first, n_second) == (3, 1)
    np.testing.assert_allclose(second[:3][::-1], first, atol=1e-6)
    np.testing.assert_allclose(second[:3][::-1], encoder.encode(texts), atol=1e-5)


def test_cache_keys_include_the_model(tmp_path):
    cache = TextEmbeddingCache(tmp_path)
    cache.store("model-a", ["x"], np.ones((1, 4), np.float32))
    assert cache.lookup("model-b", ["x"]) == {}
    assert cache.lookup("model-a", ["x"])[0].tolist() == [1, 1, 1, 1]


def test_missing_text_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(TextModelError, match="does not exist"):
        resolve_text_model(str(tmp_path / "nope"))
    with pytest.raises(TextModelError, match="not a sentence-transformers model"):
        resolve_text_model(str(tmp_path))


def test_a_local_sentence_transformers_folder_is_accepted(tmp_path):
    import shutil

    folder = tmp_path / "my-minilm"
    shutil.copytree(resolve_text_model(None), folder)
    encoder = TextEncoder(str(folder))
    default = TextEncoder()
    assert encoder.model_id.startswith("my-minilm-") and encoder.model_id != default.model_id
    np.testing.assert_allclose(encoder.encode(["A place of cafe"]), default.encode(["A place of cafe"]), atol=1e-5)


def test_two_text_models_with_weights_of_equal_size_never_share_an_identity(tmp_path):
    from calliper.core.text.encoder import text_model_id

    folders = []
    for name, weight in (("tuned-a", b"\x01" * 64), ("tuned-b", b"\x02" * 64)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text('{"hidden_size": 4}')
        (folder / "model.safetensors").write_bytes(weight)
        folders.append(folder)
    assert text_model_id(folders[0], "tuned") != text_model_id(folders[1], "tuned")
    (folders[1] / "model.safetensors").write_bytes(b"\x01" * 64)  # now the same bytes: the same identity
    assert text_model_id(folders[0], "tuned") == text_model_id(folders[1], "tuned")
