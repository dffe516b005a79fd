"""The digest built with a `Memo` (each child's figures and targets kept between builds) equals
the digest built from scratch, on a random tree, while reports are sent, corrected, returned
and units merged or retired (bot/domain/digest.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.domain.digest import (
    Digest,
    DigestInput,
    InProgress,
    Memo,
    Officer,
    Sent,
    _completeness,
    applicable_units,
    build,
)
from bot.domain.templates import Level, Template, load_templates
from bot.domain.units import Unit
from tests.test_digest import MARCH, due

T = Template.model_validate({
    "id": "t", "title": "Báo cáo", "period": "month", "deadline": "trước ngày 05 tháng sau",
    "applies_to": {"levels": ["xa"]},
    "questions": [
        {"id": "n", "text": "n", "type": "integer"},
        {"id": "kho", "text": "kho", "type": "integer", "over_time": "last"},
        {"id": "r", "text": "r", "type": "integer", "aggregate": "ratio", "denominator": "n"},
        {"id": "gia", "text": "gia", "type": "decimal", "aggregate": "average", "weight": "n"},
        {"id": "lo", "text": "lo", "type": "decimal", "aggregate": "min"},
        {"id": "y", "text": "y", "type": "yes_no"},
        {"id": "k", "text": "k", "type": "choice",
         "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]},
    ],
    "targets": [{"question": "n", "scope": "allocated"},
                {"question": "kho", "scope": "each_unit", "value": 5},
                {"question": "r", "value": 40}],
})


def tree(rng: random.Random) -> dict[str, Unit]:
    units = [Unit("P", "Tỉnh", None, Level.TINH)]
    for d in range(6):
        units.append(Unit(f"D{d}", f"Huyện {d}", "P", Level.HUYEN))
        units += [Unit(f"X{i}{d}", f"Xã {i}{d}", f"D{d}", Level.XA)  # codes not in district order
                  for i in range(rng.randint(0, 7))]
    units.append(Unit("XP", "Xã trực thuộc", "P", Level.XA))  # a commune right under the top
    return {u.code: u for u in units}


def answers(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"n": rng.randint(0, 20), "kho": rng.randint(0, 9),
                           "r": rng.randint(0, 10), "gia": rng.choice([1.5, 2.25, 0.1]),
                           "lo": rng.choice([0.3, 1.7]), "y": rng.random() < 0.5,
                           "k": rng.choice("ab")}
    for q in rng.sample(sorted(out), rng.randint(0, 2)):
        del out[q]  # some questions left unanswered
    return out


def reports(rng: random.Random, units: dict[str, Unit]) -> list[Sent]:
    out = []
    for code in sorted(units):
        for period in ("2026-02", "2026-03"):
            if units[code].level is Level.XA and rng.random() < 0.8:
                d = due(T, MARCH)
                out.append(Sent(code, period, answers(rng), d - timedelta(days=1), d,
                                version=rng.randint(1, 3), counted=rng.random() < 0.9))
    return out


def check(inp: DigestInput, memo: Memo) -> None:
    d = build(replace(inp, memo=memo))
    assert d == build(inp)
    # the whole's completeness, joined from the children's, as over every unit at once
    # (the random subtrees hold every unit the digest of the top looks at)
    if inp.root == "P":
        current = {(s.unit, s.period): s for s in inp.submissions if s.period == MARCH.id}
        codes = applicable_units(T, inp.units, inp.units)
        assert d.completeness == _completeness(inp, codes, [MARCH], current)


def test_a_memo_gives_exactly_the_digest_built_from_scratch() -> None:
    for seed in range(12):
        rng = random.Random(seed)
        units = tree(rng)
        subs = reports(rng, units)
        codes = sorted(units)
        T.set_allocations({c: rng.randint(0, 30) for c in codes if c.startswith("X")})
        drafts = [InProgress(c, MARCH.id, 1, 7) for c in codes if rng.random() < 0.3]
        officers = {c: [Officer(i, c, reachable=rng.random() < 0.7)]
                    for i, c in enumerate(codes) if rng.random() < 0.7}
        inp = DigestInput(T, MARCH, "P", units, due(T, MARCH) + timedelta(days=3), subs,
                          {MARCH.id: due(T, MARCH)}, drafts, officers)
        memo = Memo()
        check(inp, memo)
        misses = memo.misses
        check(inp, memo)  # nothing changed: every child (and the whole) reused
        assert memo.misses == misses and memo.hits >= 1

        # a correction in one commune: a new version with other answers
        i = rng.randrange(len(subs))
        subs[i] = replace(subs[i], answers=answers(rng), version=subs[i].version + 1)
        inp = replace(inp, submissions=list(subs))
        hits = memo.hits
        check(inp, memo)
        assert memo.hits > hits or len([u for u in units if u.startswith("D")]) <= 1

        # returned for correction, then the district view of the same memo
        subs[0] = replace(subs[0], counted=not subs[0].counted)
        inp = replace(inp, submissions=list(subs))
        check(inp, memo)
        check(replace(inp, root="D0"), memo)

        # a commune retired (it owes nothing from February on), then one merged into another
        communes = [c for c in codes if c.startswith("X")]
        gone = rng.choice(communes)
        units = {**units, gone: replace(units[gone], retired_on=date(2026, 1, 31))}
        check(replace(inp, units=units), memo)
        old, new = rng.sample(communes, 2)
        units[old] = replace(units[old], merged_into=new, retired_on=date(2026, 2, 28))
        check(replace(inp, units=units), memo)

        # other allocations, passed in
        check(replace(inp, units=units, allocations={c: 3 for c in communes}), memo)


def test_one_units_figure_is_its_answer_as_a_number_where_targets_take_that_shortcut() -> None:
    # `evaluate` reads a unit's own figure as `exact(answer)` for sum, min, max and a plain
    # average: what `roll_up` over that unit alone gives, for every kind of answer
    from fractions import Fraction

    from bot.domain.rollup import exact, roll_up

    t = Template.model_validate({
        "id": "q", "title": "x", "period": "month", "deadline": "trước ngày 05 tháng sau",
        "questions": [{"id": "s", "text": "s", "type": "decimal"},
                      {"id": "lo", "text": "lo", "type": "decimal", "aggregate": "min"},
                      {"id": "hi", "text": "hi", "type": "decimal", "aggregate": "max"},
                      {"id": "av", "text": "av", "type": "decimal", "aggregate": "average"}]})
    for q in t.questions:
        for v in (7, 0, -3, 0.1, 2.675, 1e-7, Fraction(1, 3), True, False, "12", None,
                  float("nan")):
            assert exact(v) == roll_up(q, {"u": {q.id: v}}).value, (q.id, v)
    many = {f"u{i}": {"s": i * 7} for i in range(50)}  # all integers: the sum's fast path
    assert roll_up(t.questions[0], many).value == sum(i * 7 for i in range(50))
    assert roll_up(t.questions[0], many).units == tuple(sorted(many))


async def test_a_kept_read_follows_reviews_and_equals_a_fresh_one(tmp_path: Path) -> None:
    """Through storage with a `Reads` (the read, the engine's form of it and the children's
    figures all kept): returning a report sends nothing, yet the next digest counts it as not
    sent, exactly as a digest read afresh."""
    from bot.services.digests import Reads, digest
    from storage.models import Review
    from storage.sqlite import SqliteStorage
    from tests.test_digest_service import MARCH as MARCH_
    from tests.test_digest_service import TOML, VN, seed

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "tong_hop.toml").write_text("review = true\n" + TOML,
                                                        encoding="utf-8")
    t = load_templates(tmp_path / "reports")[0]["tong_hop"]
    due = await seed(tmp_path / "baocao.db", t)
    storage = await SqliteStorage.open(tmp_path / "baocao.db")
    reads = Reads()
    at = due + timedelta(hours=30)

    async def both() -> Digest:
        kept = await digest(storage, t, MARCH_, "P", at, VN, 10, cache=reads)
        assert kept == await digest(storage, t, MARCH_, "P", at, VN, 10)
        return kept

    try:
        assert (await both()).completeness.actual == 2
        hits = reads.memo.hits
        assert (await both()).completeness.actual == 2 and reads.memo.hits > hits
        boss = (await storage.all_people())[0].id
        await storage.record_review(boss, Review("B", t.id, MARCH_.id, 1, "return", "Sai"))
        d = await both()
        assert d.completeness.actual == 1 and d.completeness.missing_units == ("B", "C")
    finally:
        await storage.close()


def test_the_figures_equal_the_general_roll_up_of_each_units_combined_answers() -> None:
    """The digest's short cuts (a one-period digest reading each unit's own answers, sums a
    column at a time, the whole joined from its children) against the general path:
    `answers_by_unit` over the subtree, then `roll_up` question by question."""
    from bot.domain.periods import Period
    from bot.domain.rollup import Span, answers_by_unit, roll_up

    february = Period.parse("2026-02")
    for seed in range(12):
        rng = random.Random(seed)
        units = tree(rng)
        subs = reports(rng, units)
        communes = sorted(c for c in units if c.startswith("X"))
        if len(communes) >= 2 and seed % 2:  # a merge: the heir's figures combine both
            old, new = rng.sample(communes, 2)
            units[old] = replace(units[old], merged_into=new, retired_on=date(2026, 2, 28))
        if seed % 3 == 0:  # every answer an integer or none: the column short cut throughout
            subs = [replace(s, answers={k: v for k, v in s.answers.items()
                                        if type(v) is int}) for s in subs]
        by_unit: dict[str, list[tuple[Period, dict[str, Any]]]] = {}
        for s in subs:
            if s.counted:
                by_unit.setdefault(s.unit, []).append((Period.parse(s.period), dict(s.answers)))
        merges = {u.code: u.merged_into for u in units.values() if u.merged_into}
        inp = DigestInput(T, MARCH, "P", units, due(T, MARCH) + timedelta(days=3), subs,
                          {MARCH.id: due(T, MARCH)})
        d = build(inp)
        views = {"P": set(units)} | {c.unit: {u for u in units if u == c.unit
                                              or units[u].parent_code == c.unit}
                                     for c in d.children}
        shown = {"P": d.figures} | {c.unit: c.figures for c in d.children}
        for code, view in views.items():
            codes = {u for u in view if not units[u].merged_into}
            now = answers_by_unit(T.questions, codes, by_unit, Span.of(MARCH), merges)
            before = answers_by_unit(T.questions, codes, by_unit, Span.of(february), merges)
            for f in shown[code]:
                q = T.question(f.question)
                r, b = roll_up(q, now), roll_up(q, before)
                where = (seed, code, f.question)
                assert (f.value, f.units, f.distribution) == (r.value, len(r.units),
                                                              r.distribution), where
                assert (f.previous, f.previous_distribution) == (b.value, b.distribution)
