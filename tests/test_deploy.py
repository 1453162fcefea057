"""deploy/: the systemd units pass systemd's own check with this checkout as
their install directory, the environment template names only settings the
bot reads, and the nginx configuration `make cluster` renders passes
`nginx -t`. (The cluster test, tests/telegram/test_cluster.py, runs them.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cluster import DEPLOY, INSTALL_DIR, REPO, render_nginx
from bot.settings import Settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _tool(name: str) -> str:
    exe = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if exe is None:
        message = (
            f"{name} is not installed (make setup installs nginx; systemd has systemd-analyze)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return exe


def test_the_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    exe = _tool("systemd-analyze")
    units = []
    for unit, instance in (("kz-bot@.service", "1"), ("kz-rasa@.service", "5005")):
        text = (DEPLOY / "systemd" / unit).read_text().replace(INSTALL_DIR, str(REPO))
        target = tmp_path / unit.replace("@.", f"@{instance}.")
        target.write_text(text)
        units.append(str(target))
    done = subprocess.run(  # noqa: S603 - a fixed argv
        [exe, "verify", "--man=no", *units], capture_output=True, text=True, check=False
    )
    # Unknown or misspelt settings are only warned about: none may be.
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_the_environment_template_names_only_settings_the_bot_reads() -> None:
    names = {f.upper() for f in Settings.model_fields}
    keys = [
        line.split("=", 1)[0]
        for line in (DEPLOY / "bot.env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert keys and set(keys) <= names, set(keys) - names
    assert {"BOT_TOKEN", "WEBHOOK_URL", "DATABASE_URL", "REDIS_URL", "NLU_URL"} <= set(keys)


def test_the_rendered_nginx_configuration_passes_nginx_t(tmp_path: Path) -> None:
    exe = _tool("nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx(tmp_path, 18080, 18090, "/telegram", [(18081, 18091)]))
    done = subprocess.run(  # noqa: S603 - a fixed argv
        [exe, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "server 127.0.0.1:18081" in conf.read_text()


def test_the_slow_parse_deadline_is_one_figure() -> None:
    """NLU_SLOW_AFTER unset, the deployed bot waits what the pipeline does by
    itself (tests, benchmarks): the two defaults are one figure."""
    from nlu.pipeline import SLOW_AFTER

    assert Settings.model_fields["nlu_slow_after"].default == SLOW_AFTER
