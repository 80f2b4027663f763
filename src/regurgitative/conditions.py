"""What a condition is, in the study's terms (a library: the stages that group, compare and report conditions
read it from params)."""
from __future__ import annotations


def describe(params: dict, condition: str) -> dict:
    """What a condition is, in the study's terms: its experiment (E1: real and the generators; E5: ordered by a
    quality score; E6: a mix of generators; E7: ordered by the detector; E8: a share of generated data), the
    generator(s) its English comes from (or whose scores order it), the score that orders it, its share of
    generated English, and its role in the claims:
    - `real`, `regurgitative` (E1);
    - `mitigation`: what a practitioner could do without human references (E5 reference-free scores, E6, E7);
    - `analysis`: E5 ordered by the oracle (the human reference): an upper bound, not a mitigation;
    - `control`: an ordering with the human English (`english: real`): the same sentences as the mitigation
      ordered the same way, so mitigation vs control is the effect of the English alone and control vs real the
      effect of choosing those sentences;
    - `share` (E8)."""
    if condition not in (params["grid"].get("mitigations") or []):
        return {"experiment": "E1", "generator": None if condition == "real" else condition, "score": None,
                "generated_share": 0.0 if condition == "real" else 1.0,
                "role": "real" if condition == "real" else "regurgitative"}
    recipe = params["mitigations"][condition]
    if recipe["method"] == "order":
        control = recipe.get("english", "generated") == "real"
        return {"experiment": "E7" if recipe["score"] == "detector" else "E5", "generator": recipe["generator"],
                "score": recipe["score"], "generated_share": 0.0 if control else 1.0,
                "role": "control" if control else "analysis" if recipe["score"] == "oracle" else "mitigation"}
    if recipe["method"] == "mix":
        return {"experiment": "E6", "generator": "+".join(recipe["generators"]), "score": None,
                "generated_share": 1.0, "role": "mitigation"}
    return {"experiment": "E8", "generator": recipe["generator"], "score": None,
            "generated_share": float(recipe["share"]), "role": "share"}


def control_of(params: dict, condition: str) -> str | None:
    """The grid's control for an ordered condition: the same generator's scores, the same score, human English."""
    recipe = params["mitigations"].get(condition) or {}
    if recipe.get("method") != "order" or recipe.get("english", "generated") == "real":
        return None
    for m in params["grid"].get("mitigations") or []:
        r = params["mitigations"][m]
        if (r.get("method") == "order" and r.get("english") == "real" and r.get("generator") == recipe["generator"]
                and r.get("score") == recipe["score"]):
            return m
    return None
