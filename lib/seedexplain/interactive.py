"""An interactive word heatmap for the HTML book: what every seed of every family said about each word.

:func:`word_explorer` returns one self-contained HTML fragment (inline CSS, script and data; no CDN, so the book
stays offline): a list to pick a text, the text's words coloured by each family's mean attribution over seeds, and
a tooltip that shows, for the word under the pointer or with the keyboard focus (every word is focusable with
Tab), each family's mean ± standard deviation over seeds, the per-seed values and a strip plot of them. Values are
shown with 3 significant digits; the data keep 6.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Mapping, Sequence

import numpy as np

_IDS = itertools.count()

_STYLE = """
.se-explorer { margin: 1em 0; font-size: 0.95em; }
.se-explorer select { max-width: 100%; }
.se-family { margin: 0.6em 0; }
.se-family-name { font-weight: bold; font-size: 0.9em; }
.se-word { padding: 0.1em 0.15em; margin: 0.05em; border-radius: 3px; display: inline-block; cursor: default; }
.se-word:focus { outline: 2px solid #333; }
.se-tip { position: absolute; z-index: 10; background: #fff; color: #111; border: 1px solid #888;
          padding: 0.4em 0.6em; font-size: 0.85em; box-shadow: 0 2px 6px rgba(0,0,0,.2); max-width: 32em; }
.se-tip[hidden] { display: none; }
.se-row { margin: 0.2em 0; }
"""

_SCRIPT = r"""
(function () {
  const root = document.getElementById(%(id)s);
  const data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  const select = root.querySelector('select');
  const tip = root.querySelector('.se-tip');
  const fmt = v => Number(v).toPrecision(3);
  const esc = s => String(s).replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]);
  function colour(v, limit) {
    const t = Math.max(-1, Math.min(1, limit > 0 ? v / limit : 0));
    const c = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? `rgb(255,${c},${c})` : `rgb(${c},${c},255)`;
  }
  function strip(values, limit) {
    const w = 120, h = 14, x = v => w / 2 + (limit > 0 ? v / limit : 0) * (w / 2 - 3);
    const dots = values.map(v => `<circle cx="${x(v).toFixed(1)}" cy="7" r="2.5" fill="#333" opacity="0.7"/>`);
    return `<svg width="${w}" height="${h}" aria-hidden="true"><line x1="${w / 2}" y1="0" x2="${w / 2}" ` +
           `y2="${h}" stroke="#aaa"/>${dots.join('')}</svg>`;
  }
  function show(event) {
    const span = event.currentTarget, text = data.texts[select.value], i = Number(span.dataset.i);
    const rows = data.families.map(f => {
      const values = text.scores[f.name][i], n = values.length;
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
      return `<div class="se-row" data-family="${esc(f.name)}">${esc(f.label)}: mean ` +
             `<span class="se-mean">${fmt(mean)}</span> ± <span class="se-sd">${fmt(sd)}</span> over ${n} ` +
             `seeds; seeds: <span class="se-seeds">` +
             `${values.map(fmt).join(', ')}</span> ${strip(values, text.limits[f.name])}</div>`;
    });
    tip.innerHTML = `<div><b>${esc(span.textContent)}</b></div>` + rows.join('');
    const box = span.getBoundingClientRect(), host = root.getBoundingClientRect();
    tip.style.left = `${box.left - host.left}px`;
    tip.style.top = `${box.bottom - host.top + 4}px`;
    tip.hidden = false;
  }
  function hide() { tip.hidden = true; }
  function render() {
    const text = data.texts[select.value];
    root.querySelectorAll('.se-family').forEach(block => {
      const family = block.dataset.family, words = block.querySelector('.se-words');
      words.innerHTML = '';
      text.words.forEach((word, i) => {
        const values = text.scores[family][i];
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        const span = document.createElement('span');
        span.className = 'se-word'; span.tabIndex = 0; span.dataset.i = i; span.textContent = word;
        span.style.background = colour(mean, text.limits[family]);
        span.setAttribute('aria-describedby', tip.id);
        span.addEventListener('mouseenter', show); span.addEventListener('focus', show);
        span.addEventListener('mouseleave', hide); span.addEventListener('blur', hide);
        words.appendChild(span); words.appendChild(document.createTextNode(' '));
      });
    });
    hide();
  }
  select.addEventListener('change', render);
  render();
})();
"""


def word_explorer(texts: Sequence[tuple[str, Sequence[str], Mapping[str, np.ndarray]]],
                  labels: Mapping[str, str]) -> str:
    """Return the HTML of an interactive word heatmap of ``texts``.

    Each text is ``(title, words, attributions)``: ``attributions`` maps a family to its ``(n_words, n_seeds)``
    array (the same families, in the order to show them, for every text); ``labels`` names the families. A word's
    colour is its mean over seeds, red positive and blue negative, scaled per family and text by the largest
    absolute mean (the families' units differ).
    """
    if not texts:
        raise ValueError("texts is empty: the explorer needs at least one text")
    families = list(texts[0][2])
    entries = []
    for title, words, attributions in texts:
        if list(attributions) != families:
            raise ValueError(f"text {title!r} has families {list(attributions)}, the first text {families}")
        scores = {f: np.asarray(attributions[f], dtype=float) for f in families}
        for family, a in scores.items():
            if a.ndim != 2 or a.shape[0] != len(words):
                raise ValueError(f"text {title!r}, family {family!r}: attributions of shape {a.shape}, expected "
                                 f"({len(words)}, n_seeds)")
        entries.append({"title": title, "words": list(words),
                        "scores": {f: np.round(a, 6).tolist() for f, a in scores.items()},
                        "limits": {f: float(np.max(np.abs(a.mean(axis=1)))) for f, a in scores.items()}})
    widget = f"se-explorer-{next(_IDS)}"
    payload = json.dumps({"families": [{"name": f, "label": labels.get(f, f)} for f in families],
                          "texts": entries}).replace("</", "<\\/")
    options = "".join(f'<option value="{i}">{html.escape(e["title"])}</option>' for i, e in enumerate(entries))
    blocks = "".join(f'<div class="se-family" data-family="{html.escape(f)}"><div class="se-family-name">'
                     f'{html.escape(labels.get(f, f))}</div><p class="se-words"></p></div>' for f in families)
    return (f'<div class="se-explorer" id="{widget}" style="position: relative"><style>{_STYLE}</style>'
            f'<label>Text: <select aria-label="text to explain">{options}</select></label>{blocks}'
            f'<div class="se-tip" id="{widget}-tip" role="tooltip" hidden></div>'
            f'<script type="application/json">{payload}</script>'
            f"<script>{_SCRIPT % {'id': json.dumps(widget)}}</script></div>")
