"""The apply transaction on real files: a failure or an interrupt after any step restores the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbwizard.apply import transaction
from lbwizard.apply.plan import plan
from lbwizard.apply.step import Step
from lbwizard.config.paths import Paths


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


class Boom(Exception):
    pass


def failing_after(steps: list[Step], index: int, error: BaseException) -> list[Step]:
    def fail() -> None:
        raise error

    return [*steps[: index + 1], Step("injected fault", fail, lambda: None), *steps[index + 1 :]]


@pytest.mark.parametrize("error", [Boom("disk full"), KeyboardInterrupt()], ids=["exception", "ctrl_c"])
@pytest.mark.parametrize("fault_after", [0, 1, 2])
@pytest.mark.parametrize("existing", [False, True], ids=["fresh_root", "configured_root"])
def test_fault_after_any_step_restores_the_tree(tmp_path, example_config, error, fault_after, existing):
    paths = Paths(tmp_path)
    if existing:
        transaction.run(plan(example_config, paths, "$6$old$hash"))
        (tmp_path / "unrelated.txt").write_text("not ours")
    before = snapshot(tmp_path)
    example_config.gateway = "10.0.0.1"
    steps = plan(example_config, paths, "$6$new$hash")
    with pytest.raises(type(error)):
        transaction.run(failing_after(steps, fault_after, error))
    assert snapshot(tmp_path) == before


def test_cancel_during_the_last_step_still_undoes(tmp_path, example_config):
    flag = {"cancel": False}
    steps = [*plan(example_config, Paths(tmp_path)), Step("last", lambda: flag.update(cancel=True), lambda: None)]
    with pytest.raises(transaction.Cancelled):
        transaction.run(steps, cancelled=lambda: flag["cancel"])
    assert snapshot(tmp_path) == {}


def test_failed_undo_is_reported_and_the_rest_still_undone(tmp_path):
    undone = []

    def bad_undo() -> None:
        raise OSError("read-only")

    steps = [
        Step("a", lambda: None, lambda: undone.append("a")),
        Step("b", lambda: None, bad_undo),
        Step("c", lambda: (_ for _ in ()).throw(Boom()), lambda: None),
    ]
    with pytest.raises(transaction.RollbackIncomplete, match="b: read-only"):
        transaction.run(steps)
    assert undone == ["a"]


def test_a_step_that_fails_half_way_is_undone_too(tmp_path):
    touched = tmp_path / "half.txt"

    def half_done() -> None:
        touched.write_text("partial")
        raise Boom("died half way")

    steps = [Step("half", half_done, lambda: touched.unlink(missing_ok=True))]
    with pytest.raises(Boom):
        transaction.run(steps)
    assert not touched.exists()


def test_undo_of_a_file_step_that_never_ran_leaves_the_file_alone(tmp_path):
    from lbwizard.apply.config_files import file_step

    existing = tmp_path / "keep.txt"
    existing.write_text("the admin's")
    file_step(existing, "ours", "write keep.txt").undo()
    assert existing.read_text() == "the admin's"


def _raises(error: BaseException):
    def act() -> None:
        raise error

    return act


@pytest.mark.parametrize(
    ("fault", "undo_fails", "kind", "code", "line"),
    [
        (None, False, "ok", 0, "applied"),
        (Boom("disk full"), False, "failed-and-undone", 1, "apply failed and every change was undone: disk full"),
        (Boom("disk full"), True, "failed-and-undo-incomplete", 4,
         "apply failed (disk full), and the rollback is INCOMPLETE: could not undo: b: read-only"),
        (KeyboardInterrupt(), False, "interrupted", 130, "interrupted; every change was undone"),
        (KeyboardInterrupt(), True, "failed-and-undo-incomplete", 4,
         "apply failed (interrupted), and the rollback is INCOMPLETE: could not undo: b: read-only"),
    ],
    ids=["ok", "undone", "undo_incomplete", "interrupted", "interrupted_undo_incomplete"],
)  # fmt: skip
def test_every_way_a_transaction_ends_is_one_outcome_with_its_line_and_exit_code(fault, undo_fails, kind, code, line):
    """The Outcome lbctl, lbwizard and the screens all render: an incomplete rollback is never "undone"."""
    steps = [
        Step("a", lambda: None, lambda: None),
        Step("b", lambda: None, _raises(OSError("read-only")) if undo_fails else lambda: None),
        *([Step("c", _raises(fault), lambda: None)] if fault else []),
    ]
    outcome = transaction.attempt(steps)
    assert (outcome.kind, outcome.exit_code, outcome.line()) == (kind, code, line)
    assert transaction.Outcome.of_exit_code(code).kind == kind
    assert ("INCOMPLETE" in outcome.screen_text()) == undo_fails and ("undone" in outcome.screen_text()) == (kind != "ok")
