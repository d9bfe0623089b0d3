"""deploy/: the systemd unit passes `systemd-analyze verify` (with ExecStart pointing at the built
binary) without a warning, and its example environment file names only settings serve knows."""
import re
import subprocess
from pathlib import Path

from conftest import BIN, tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_systemd_unit_verifies(tmp_path):
    unit = tmp_path / "chainvault.service"
    unit.write_text((DEPLOY / "chainvault.service").read_text().replace("/usr/local/bin/chainvault", BIN))
    checked = subprocess.run([tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert "Unknown" not in checked.stderr and "ignoring" not in checked.stderr, checked.stderr


def test_the_two_instance_template_unit_verifies(tmp_path):
    """deploy/two-instances: the template unit, as instance 1 (its environment files in place)."""
    unit = tmp_path / "chainvault@1.service"
    text = (DEPLOY / "two-instances" / "chainvault@.service").read_text().replace("/usr/local/bin/chainvault", BIN)
    for name in ("shared.env", "instance-%i.env"):
        (tmp_path / name.replace("%i", "1")).write_text("")
        text = text.replace(f"/etc/chainvault/{name}", str(tmp_path / name))
    unit.write_text(text)
    checked = subprocess.run([tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert "Unknown" not in checked.stderr and "ignoring" not in checked.stderr, checked.stderr


def test_the_example_environment_names_only_known_settings():
    """Every variable of the examples is one of the settings the configuration file knows too, and each
    such setting is read somewhere in the sources."""
    names = []
    for example in ("chainvault.env.example", "two-instances/shared.env.example", "two-instances/instance-1.env.example"):
        found = re.findall(r"^#?\s*(CHAINVAULT_[A-Z0-9_]+)=", (DEPLOY / example).read_text(), re.M)
        assert found, example
        names += found
    assert len(names) > 10
    folder = Path(__file__).resolve().parents[2] / "Sources" / "chainvault"
    sources = "".join(p.read_text() for p in folder.rglob("*.swift"))
    # The declarations (Sources/Settings/Setting.swift): each case, by its name in Swift and in the file.
    declarations = (folder.parent / "Settings" / "Setting.swift").read_text()
    cases = declarations[declarations.index("public enum Setting"):declarations.index("/// What a setting's value is.")]
    settings = {}
    for line in re.findall(r"^    case (.+)$", cases, re.M):
        for item in line.split(","):
            swift_name, _, raw = item.strip().partition(" = ")
            settings[(raw.strip('"') or swift_name).upper().replace("-", "_")] = swift_name
    assert len(settings) > 50 and settings["S3_PORT"] == "s3Port"
    for name in names:
        short = name.removeprefix("CHAINVAULT_")
        assert short in settings, f"{name} in deploy/chainvault.env.example is not a setting of chainvault serve"
    for short, swift_name in settings.items():
        # A secret's file (SECRET_KEY_FILE) is read with its secret (SettingValues.secret).
        secret = settings.get(short.removesuffix("_FILE")) if short.endswith("_FILE") else None
        read = re.search(rf"\.{swift_name}\b", sources) or (secret and re.search(rf"secret\(\.{secret}\b", sources))
        assert read, f"the setting {short} is accepted but nothing reads it"
