"""Small plain-Python workflows several tests share."""

from __future__ import annotations

from wfpkg import Context, Workflow

__all__ = ["parked"]


def parked() -> Workflow:
    """``parked``: one task, ``park``, that waits for signal ``go`` and outputs its payload as ``got``."""
    wf = Workflow("parked")

    @wf.task()
    def park(ctx: Context) -> None:
        ctx["got"] = ctx.wait_for_signal("go")

    return wf
