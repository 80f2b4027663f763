"""E7's AI-text detector: a classifier of human vs generated English, one per generator, trained on the detector
split only (sentences no student, teacher or test set has; generate.detector_lines), then asked how human each
sentence of the generator's pool reads.

Features, chosen to see the English alone (never the German, never the sentence's position or length as such):
TF-IDF of character 1-4-grams within word boundaries (style, spelling, punctuation habits) and of word uni- and
bigrams (wording), fed to a logistic regression (scikit-learn). Both versions of a German sentence (the human
and the generated English) always fall into the same cross-validation fold, so the held-out AUC is not
inflated by the classifier recognising content it has seen. Used by the quality stage.
"""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline, make_union

HUMAN, GENERATED = 1, 0


def make_detector(c: float = 1.0):
    features = make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True),
                          TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1, sublinear_tf=True))
    return make_pipeline(features, LogisticRegression(C=c, max_iter=2000))


def training_set(human: list[str], generated: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels (1 human, 0 generated) and groups (the German sentence's index) of the detector split."""
    if len(human) != len(generated):
        raise ValueError(f"the detector split has {len(human)} human and {len(generated)} generated sentences")
    texts = [*human, *generated]
    labels = np.array([HUMAN] * len(human) + [GENERATED] * len(generated))
    groups = np.concatenate([np.arange(len(human)), np.arange(len(generated))])
    return texts, labels, groups


def held_out_auc(texts: list[str], labels: np.ndarray, groups: np.ndarray, folds: int = 5) -> float:
    """ROC AUC of out-of-fold probabilities, folds grouped by German sentence."""
    scores = np.zeros(len(texts))
    for train, test in GroupKFold(n_splits=folds).split(texts, labels, groups):
        model = make_detector().fit([texts[i] for i in train], labels[train])
        scores[test] = model.predict_proba([texts[i] for i in test])[:, 1]
    return float(roc_auc_score(labels, scores))


def human_likeness(human: list[str], generated: list[str], pool: list[str]) -> tuple[list[float], float]:
    """P(human) of every pool sentence from a detector trained on the whole detector split, and the held-out
    AUC of the same recipe on that split."""
    texts, labels, groups = training_set(human, generated)
    auc = held_out_auc(texts, labels, groups)
    model = make_detector().fit(texts, labels)
    return [float(p) for p in model.predict_proba(pool)[:, 1]], auc
