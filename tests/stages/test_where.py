"""where: routing by a column an earlier step wrote, nulls rejected, a missing column an error naming it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate.stages.where import Where
from curate.stats import StageStats

BATCH = pa.table({"id": ["a", "b", "c", "d"], "lang": ["en", "de", None, "en"], "lang_score": [0.9, 0.95, 0.99, 0.5]})


def test_values_and_bounds_route_documents():
    stats = StageStats("where")
    result = Where(column="lang", values=["en"]).process(BATCH, stats)
    assert result.kept.column("id").to_pylist() == ["a", "d"]
    assert result.rejected.column("reject_reason").to_pylist() == ["where_lang"] * 2
    assert result.rejected.column("reject_detail").to_pylist() == ["lang = 'de'", "lang = None"]
    assert stats.docs_in == 4 and stats.kept == 2 and stats.rejected["where_lang"] == 2
    scored = Where(column="lang_score", min=0.8, max=0.96).process(BATCH, StageStats("where"))
    assert scored.kept.column("id").to_pylist() == ["a", "b"]


def test_a_missing_column_names_itself():
    with pytest.raises(ValueError, match="no column 'language'"):
        Where(column="language", values=["en"]).process(BATCH, StageStats("where"))
    with pytest.raises(ValueError, match="give `values`, `min` or `max`"):
        Where(column="lang")
