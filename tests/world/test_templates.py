"""Templates and pools of the persona world: counts, split, disjointness."""

from __future__ import annotations

import pytest

from world import phrasings
from world.facts import KINDS, RELATIONS
from world.pools import POOL_FAMILIES, POOLS
from world.templates import (
    HELDOUT,
    TRAIN,
    all_templates,
    normalise,
    question_templates,
    render,
    templates,
    update_templates,
)

ROLES = ("statement", "question")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", KINDS)
def test_at_least_30_templates_per_kind_with_both_splits(role, kind):
    found = templates(role, kind)
    assert len(found) >= 30
    heldout = templates(role, kind, HELDOUT)
    train = templates(role, kind, TRAIN)
    assert len(heldout) >= 4 and len(train) >= 20
    assert {t.id for t in heldout}.isdisjoint({t.id for t in train})
    assert {normalise(t.text) for t in heldout}.isdisjoint({normalise(t.text) for t in train})


def test_no_heldout_phrasing_is_contained_in_a_train_phrasing():
    groups = [(role, kind) for role in ROLES for kind in KINDS] + [("update", k) for k in phrasings.UPDATES]
    for role, kind in groups:
        found = templates(role, kind)
        for a in found:
            for b in found:
                if a.split != b.split:
                    assert f" {normalise(a.text)} " not in f" {normalise(b.text)} ", (a.text, b.text)


def test_heldout_questions_do_not_occur_in_any_statement():
    statements = [normalise(t.text) for t in all_templates() if t.role != "question"]
    for t in all_templates():
        if t.role == "question" and t.split == HELDOUT:
            q = normalise(t.text)
            assert not any(q in s for s in statements), t.text


def test_split_is_pinned_for_known_templates():
    # Regression guard: the split of an existing phrasing must not change between versions, or a model
    # pretrained on the old "train" set would be scored on it as "heldout".
    by_text = {(t.role, t.kind, t.text): t.split for t in all_templates()}
    assert by_text[("question", "user_name", "What's my name?")] == TRAIN
    assert by_text[("question", "person", "Who would I be talking about if I said my {noun}?")] == HELDOUT
    assert by_text[("statement", "person", "My {noun} is called {X}.")] == TRAIN


def test_every_relation_has_templates_and_updates_where_mutable():
    for rel in RELATIONS:
        assert question_templates(rel.key, HELDOUT) and question_templates(rel.key, TRAIN)
        if rel.mutable:
            assert update_templates(rel.key)
        else:
            with pytest.raises(ValueError):
                update_templates(rel.key)


def test_template_slots():
    for t in all_templates():
        if t.role == "question":
            assert "{X}" not in t.text and "{a_X}" not in t.text and "{old}" not in t.text
        else:
            assert "{X}" in t.text or "{a_X}" in t.text
        text = render(t.text, "Value", noun="sister", old="Older")
        assert "{" not in text and "\n" not in text and text.isascii()
        assert text[0].isupper()


def test_pools_are_large_clean_and_disjoint():
    names = POOL_FAMILIES["names"]
    assert len(names) >= 300 and len(POOLS["cities"]) >= 200 and len(POOLS["employers"]) >= 500
    for pool in ("foods", "job_titles", "pet_names", "destinations", "cars"):
        assert len(POOLS[pool]) >= 70, pool
    seen: dict[str, str] = {}
    for family, values in POOL_FAMILIES.items():
        assert len({v.lower() for v in values}) == len(values), f"duplicates in {family}"
        for v in values:
            assert v.isascii() and "." not in v and 1 <= len(v.split()) <= 3, v
            assert v == v.strip() and "  " not in v
            assert seen.setdefault(v.lower(), family) == family, f"{v!r} in {family} and {seen[v.lower()]}"
