"""What a vendor brings to the demo (`make run`): the sandbox server run_demo
starts for it and the demo account seed_demo creates. Each vendor declares both
in its own `demo.py` (SANDBOX, seed()); seed_demo and run_demo loop over the
registry and name no vendor."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoSandbox:
    """A sandbox vendor server run as `python -m <module> --port <port> ...`.

    module: the sandbox's module in the top-level `sandboxes` package (a
    development tool, outside the production package); path: the prefix its
    base URL carries (http://127.0.0.1:<port>/<path>)."""

    name: str
    port: int
    module: str
    path: str
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        return ["-m", self.module, "--port", str(self.port), *self.args]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.path}"
