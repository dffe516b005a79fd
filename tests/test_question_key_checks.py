"""Config checks of the report model's question keys: each broken example and its pinpointed
error or warning; warnings keep a template loading and `check-config` exiting 0."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.cli import main
from bot.domain.templates import Template, check_template, load_template, load_templates

HEAD = '''
id = "mau"
title = "Mẫu"
period = "quarter"
deadline = "trước ngày 05 tháng cuối quý"
'''
TOTAL = '''
[[questions]]
id = "so_to"
text = "Tổng số tổ"
type = "integer"
over_time = "last"
'''
GOOD = HEAD + TOTAL + '''
[[questions]]
id = "so_to_kha"
text = "Số tổ xếp loại khá"
type = "integer"
aggregate = "ratio"
denominator = "so_to"
over_time = "last"

[[questions]]
id = "ty_le"
text = "Tỉ lệ hộ thoát nghèo"
type = "percent"
weight = "so_to"
over_time = "last"

[[questions]]
id = "co_quy"
text = "Có quỹ chưa?"
type = "yes_no"
over_time = "last"
prefill = "previous"
definition = "Quỹ do chi hội lập, có sổ sách riêng."
'''


def problems(toml: str) -> list[str]:
    return [str(p) for p in check_template(Template.model_validate(tomllib.loads(toml)),
                                           "mau.toml")]


def with_question(body: str) -> str:
    return HEAD + TOTAL + "\n[[questions]]\n" + body


def test_a_template_using_every_key_rightly_has_no_problem() -> None:
    assert problems(GOOD) == []


def test_the_ratio_may_name_a_total_asked_after_it() -> None:
    toml = HEAD + '''
[[questions]]
id = "dat"
text = "Số đạt"
type = "integer"
aggregate = "ratio"
denominator = "tong"
over_time = "sum"
[[questions]]
id = "tong"
text = "Tổng"
type = "decimal"
over_time = "sum"
'''
    assert problems(toml) == []


ERRORS = [
    ('id = "x"\ntext = "X"\ntype = "integer"\naggregate = "ratio"\nover_time = "sum"',
     'mau.toml: questions[1].denominator: required with aggregate = "ratio": the id of the '
     'count this one is a part of'),
    ('id = "x"\ntext = "X"\ntype = "integer"\ndenominator = "so_to"\nover_time = "sum"',
     'mau.toml: questions[1].denominator: only with aggregate = "ratio"'),
    ('id = "x"\ntext = "X"\ntype = "integer"\naggregate = "ratio"\ndenominator = "so_tooo"\n'
     'over_time = "sum"',
     "mau.toml: questions[1].denominator: 'so_tooo' is not a question of this template"),
    ('id = "x"\ntext = "X"\ntype = "integer"\naggregate = "ratio"\ndenominator = "x"\n'
     'over_time = "sum"',
     "mau.toml: questions[1].denominator: a question cannot be its own denominator"),
    ('id = "x"\ntext = "X"\ntype = "percent"\naggregate = "ratio"\ndenominator = "so_to"\n'
     'over_time = "last"',
     "mau.toml: questions[1].aggregate: ratio needs an integer or decimal question (the count "
     "of the part), not percent"),
    ('id = "x"\ntext = "X"\ntype = "integer"\naggregate = "ratio"\ndenominator = "c"\n'
     'over_time = "sum"\n[[questions]]\nid = "c"\ntext = "C"\ntype = "yes_no"',
     "mau.toml: questions[1].denominator: 'c' is a yes_no question: the denominator must be "
     "an integer or decimal count"),
    ('id = "x"\ntext = "X"\ntype = "integer"\naggregate = "ratio"\ndenominator = "y"\n'
     'over_time = "sum"\n[[questions]]\nid = "y"\ntext = "Y"\ntype = "integer"\n'
     'aggregate = "ratio"\ndenominator = "so_to"\nover_time = "sum"',
     "mau.toml: questions[1].denominator: 'y' is itself a rate (aggregate = \"ratio\"): name "
     "the count it is divided by"),
    ('id = "x"\ntext = "X"\ntype = "percent"\nweight = "nope"\nover_time = "last"',
     "mau.toml: questions[1].weight: 'nope' is not a question of this template"),
    ('id = "x"\ntext = "X"\ntype = "percent"\naggregate = "max"\nweight = "so_to"\n'
     'over_time = "last"',
     "mau.toml: questions[1].weight: only for a question aggregated by average, not max"),
    ('id = "x"\ntext = "X"\ntype = "percent"\nweight = "c"\nover_time = "last"\n'
     '[[questions]]\nid = "c"\ntext = "C"\ntype = "text"',
     "mau.toml: questions[1].weight: 'c' is a text question: the weight must be an integer or "
     "decimal count"),
    ('id = "x"\ntext = "X"\ntype = "text"\nover_time = "last"',
     "mau.toml: questions[1].over_time: only numbers add up over time, not text"),
    ('id = "x"\ntext = "X"\ntype = "yes_no"\nover_time = "sum"',
     'mau.toml: questions[1].over_time: only numbers add up over time, not yes_no (a yes_no '
     'question may take "last")'),
    ('id = "x"\ntext = "X"\ntype = "percent"\naggregate = "average"\nover_time = "sum"',
     'mau.toml: questions[1].over_time: a percentage does not add up over time: use "last"'),
    ('id = "x"\ntext = "X"\ntype = "photo"\nprefill = "previous"',
     "mau.toml: questions[1].prefill: a photo answer belongs to its own period: prefill is for "
     "numbers, yes/no, choices and text"),
    ('id = "x"\ntext = "X"\ntype = "date"\nprefill = "previous"',
     "mau.toml: questions[1].prefill: a date answer belongs to its own period: prefill is for "
     "numbers, yes/no, choices and text"),
]


@pytest.mark.parametrize(("body", "error"), ERRORS)
def test_each_broken_key_is_pinpointed(body: str, error: str) -> None:
    assert error in problems(with_question(body))


@pytest.mark.parametrize(("body", "key"), [
    ('id = "x"\ntext = "X"\ntype = "prefill"', "type"),
    ('id = "x"\ntext = "X"\ntype = "integer"\nprefill = "last"', "prefill"),
    ('id = "x"\ntext = "X"\ntype = "integer"\nover_time = "average"', "over_time"),
    ('id = "x"\ntext = "X"\ntype = "text"\ndefinition = ""', "definition"),
    ('id = "x"\ntext = "X"\ntype = "text"\ndefinition = "' + "a" * 1001 + '"', "definition"),
])
def test_bad_values_are_refused_by_structure(tmp_path: Path, body: str, key: str) -> None:
    path = tmp_path / "mau.toml"
    path.write_text(with_question(body), encoding="utf-8")
    template, found = load_template(path, "mau.toml")
    assert template is None
    assert any(p.path == f"questions[1].{key}" for p in found), found


WEIGHT_WARNING = ("warning: mau.toml: questions[1].weight: a percentage averaged over units: "
                  'name what weights it (weight = "<question id>", e.g. the number of groups), '
                  'or write aggregate = "average" for a plain average')
OVER_TIME_WARNING = ('warning: mau.toml: questions[1].over_time: say how it adds up over time: '
                     'over_time = "sum" for a flow')


def test_an_unweighted_average_and_a_number_without_over_time_are_warnings() -> None:
    found = problems(with_question('id = "x"\ntext = "X"\ntype = "percent"'))
    assert len(found) == 2
    assert found[0].startswith(OVER_TIME_WARNING) and found[1].startswith(WEIGHT_WARNING)
    # said explicitly: no warning
    assert problems(with_question('id = "x"\ntext = "X"\ntype = "percent"\n'
                                  'aggregate = "average"\nover_time = "last"')) == []


def test_warnings_do_not_stop_a_template_from_loading(tmp_path: Path) -> None:
    path = tmp_path / "mau.toml"
    path.write_text(with_question('id = "x"\ntext = "X"\ntype = "percent"'), encoding="utf-8")
    template, found = load_template(path, "mau.toml")
    assert template is not None and found == []
    template, found = load_template(path, "mau.toml", warnings=True)
    assert template is not None and [p.severity for p in found] == ["warning", "warning"]
    templates, found = load_templates(tmp_path, warnings=True)
    assert list(templates) == ["mau"] and len(found) == 2


def write_site(tmp: Path, body: str) -> None:
    (tmp / "reports").mkdir()
    (tmp / "reports" / "mau.toml").write_text(with_question(body), encoding="utf-8")
    (tmp / "config.toml").write_text(f'[storage]\npath = "{tmp / "db.sqlite"}"\n'
                                     '[reports]\ndir = "reports"\n', encoding="utf-8")


def test_check_config_shows_warnings_and_exits_0(workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write_site(workdir, 'id = "x"\ntext = "X"\ntype = "percent"')
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("OK: 1 templates")
    lines = err.splitlines()
    assert any(line.startswith("warning: reports/mau.toml: questions[1].weight:")
               for line in lines), err
    assert any(line.startswith("warning: reports/mau.toml: questions[1].over_time:")
               for line in lines), err


def test_check_config_exits_2_on_an_error_and_shows_errors_alone(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_site(workdir, 'id = "x"\ntext = "X"\ntype = "percent"\n'
               '[[questions]]\nid = "y"\ntext = "Y"\ntype = "integer"\naggregate = "ratio"\n'
               'denominator = "khong_co"\nover_time = "sum"')
    assert main(["check-config"]) == 2
    out, err = capsys.readouterr()
    assert "OK" not in out
    assert ("reports/mau.toml: questions[2].denominator: 'khong_co' is not a question of this "
            "template") in err
    assert "warning:" not in err  # errors first: warnings would bury them
