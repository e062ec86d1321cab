"""Lexical intent member of the accurate-mode ensemble (``voicebot eval intents``): TF-IDF over word 1-2-grams
and character 2-5-grams within words (sublinear tf) + multinomial logistic regression.

It sees spellings and exact phrases that sentence embeddings blur; alone it is weaker than the embedding
members (BANKING77 dev 90.7 %, CLINC150 val in-scope 92.9 %), in the ensemble it fixes more rows than it
breaks on CLINC150 and HWU64 (eval/README.md "Intents"). No model, no embedding: ≈ 1 ms per utterance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voicebot.nlu.intents import _softmax

LEXICAL_C = 30.0  # tuned on the development sets (eval/README.md "Intents"): C = 10 did the same, slower


class LexicalClassifier:
    """TF-IDF n-grams + a linear softmax head; ``labels`` sorted, like the other ensemble members'."""

    def __init__(self, labels: Sequence[str], vectorizers: Sequence, weights: Sequence[np.ndarray],
                 bias: np.ndarray) -> None:
        """``vectorizers``: fitted sklearn TfidfVectorizers; ``weights``: one (features, classes) block each."""
        self.labels = tuple(labels)
        self.vectorizers = tuple(vectorizers)
        self.weights = tuple(np.asarray(w, dtype=np.float32) for w in weights)
        self.bias = np.asarray(bias, dtype=np.float32)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> LexicalClassifier:
        """Train on (text, label) rows (deterministic lbfgs); needs at least two labels."""
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizers = (TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
                       TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True))
        features = hstack([v.fit_transform(texts) for v in vectorizers], format="csr")
        model = LogisticRegression(C=LEXICAL_C, max_iter=3000).fit(features, labels)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # sklearn keeps one row for two classes: make it a two-way softmax
            coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0], intercept[0]]) / 2
        splits = np.cumsum([len(v.vocabulary_) for v in vectorizers])[:-1]
        return cls([str(c) for c in model.classes_], vectorizers, np.split(coef.T, splits), intercept)

    def probabilities_of(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (rows follow ``labels``). The head is applied here rather than through
        sklearn's ``predict_proba``: a third less time for one utterance."""
        return _softmax(self.bias + sum(v.transform(texts).astype(np.float32) @ w
                                        for v, w in zip(self.vectorizers, self.weights, strict=True)))

    def with_threads(self, threads: int) -> LexicalClassifier:
        """Itself: prediction is single-threaded sparse algebra."""
        return self
