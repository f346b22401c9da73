"""The `ftfy` step: text repaired with ftfy (Speer 2019, "ftfy", Zenodo 10.5281/zenodo.2591652), chiefly mojibake,
UTF-8 that was decoded as Windows-1252 somewhere upstream of the page and published that way.

Decoding the page right does not fix it: the bytes on the site already spell "youâ€™re" (a Dragnet page of the shared
corpus, in UTF-8 as it declares: "you&acirc;\\x80\\x99re"), and 9 of the first 200 partitions of the ablation's main
text hold such words. A tokenizer then learns "â€™" as a piece of English. ftfy reverses the mis-decoding where the
result is unambiguous and leaves other text alone.

The options are datatrove's FTFYFormatter's (the FineWeb-Edu and FineWeb-2 pipelines): encoding repairs and control
characters on; quotes, ligatures, full-width characters and line breaks left as written (they are the author's, not
damage), and no Unicode normalisation (the `normalize` step's job). `ftfy_fixed` records which documents changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage, Reject


@dataclass
class Ftfy(DocumentStage):
    """Repair mojibake and stray control sequences in `text` with ftfy; `ftfy_fixed` says whether it changed."""

    name: ClassVar[str] = "ftfy"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()), pa.field("ftfy_fixed", pa.bool_()))

    unescape_html: bool = False  # "&amp;" left as written: extraction has already unescaped the page's entities

    def __post_init__(self) -> None:
        import ftfy

        self._config = ftfy.TextFixerConfig(
            unescape_html=self.unescape_html, remove_terminal_escapes=True, fix_encoding=True, restore_byte_a0=True,
            replace_lossy_sequences=True, decode_inconsistent_utf8=True, fix_c1_controls=True,
            fix_latin_ligatures=False, fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
            fix_surrogates=True, remove_control_chars=True, normalization=None)

    def apply(self, text: str | None) -> tuple[str, bool] | Reject:
        import ftfy

        fixed = ftfy.fix_text(text or "", config=self._config)
        return (fixed, fixed != text) if fixed.strip() else Reject("empty_after_ftfy")
