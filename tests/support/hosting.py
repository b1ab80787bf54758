"""A `Host` running built, signed sample packages for one tenant, for end-to-end tests.

Example::

    @pytest.fixture(scope="module")
    def host(tmp_path_factory):
        with packaged_host(tmp_path_factory.mktemp("pa"), ["purchase_approval"]) as h:
            yield h

The packages run in the host's worker processes, as in production. Builds
come from `support.packages.build_sample`, which builds each sample once per
test session.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from support.packages import build_sample, make_key
from wfhost import Host

__all__ = ["packaged_host"]


@contextmanager
def packaged_host(tmp: Path, samples: Sequence[str], tenant: str = "acme") -> Iterator[Host]:
    """Build ``samples``, start a host whose client acts for ``tenant``, register them there."""
    key = make_key(tmp, f"{tenant}-ci")
    archives = [build_sample(name, key, tmp / "dist") for name in samples]
    with Host(home=tmp / "home", load_timeout=30, tenant=tenant) as host:
        host.client.create_tenant(tenant)
        host.client.trust(tenant, key.pub_path.read_text(encoding="ascii"), label=f"{tenant} ci")
        for archive in archives:
            host.client.register(archive, tenant=tenant)
        yield host
