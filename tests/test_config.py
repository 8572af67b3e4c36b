"""player.toml: defaults, values, env overrides, and one clear line per bad key."""

from __future__ import annotations

from pathlib import Path

from player.config import SCHEMA, describe_keys, load_config
from screens import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "player.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml", env={})
    assert config.city == "Musterstadt" and config.timezone == "Europe/Berlin"
    assert config["cache"]["parallel_downloads"] == 2
    assert config.problems == (f"{tmp_path / 'absent.toml'}: file not found; using defaults",)


def test_values_and_env_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[player]\ncity = "Beispielstadt"\nrotation = 90\n[source]\npath = "/srv/c"\n'
                           '[hub]\nallowed_file_hosts = ["cdn.example.org"]\n')
    config = load_config(path, env={"OSC_PLAYER_SOURCE_PATH": "/media/usb", "OSC_PLAYER_CACHE_QUOTA_MB": "100",
                                    "OSC_PLAYER_HUB_LIVE_QUERY": "false", "UNRELATED": "x"})
    assert config.problems == ()
    assert config.city == "Beispielstadt" and config["player"]["rotation"] == 90
    assert config["source"]["path"] == "/media/usb"
    assert config["cache"]["quota_mb"] == 100 and config["hub"]["live_query"] is False
    assert config["hub"]["allowed_file_hosts"] == ["cdn.example.org"]


def test_bad_values_give_one_line_each_naming_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[player]\ncity = 5\ntimezone = "Mars/Olympus"\nrotation = 45\ncolour = "x"\n'
                           '[branding]\nprimary = "rot"\n[bogus]\nx = 1\n[cache]\nquota_mb = true\n')
    config = load_config(path, env={})
    lines = config.problems
    assert len(lines) == 7, lines
    assert all(line.startswith(f"{path}: ") and "\n" not in line for line in lines)
    joined = "\n".join(lines)
    for fragment in ["player.city: expected str, got 5", "player.timezone: 'Mars/Olympus' is not a known time zone",
                     "player.rotation: 45 must be one of: 0, 90, 180, 270", "player.colour: unknown key",
                     "branding.primary: 'rot' is not a colour", "[bogus]: unknown section",
                     "cache.quota_mb: expected int, got True"]:
        assert fragment in joined
    assert config.city == "Musterstadt" and config["player"]["rotation"] == 0  # defaults kept


def test_broken_toml_is_one_line(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[player\ncity="), env={})
    assert len(config.problems) == 1 and "not valid TOML" in config.problems[0]


def test_docs_list_every_key_with_its_default() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, key, _default, _desc in describe_keys():
        assert f"`{section}.{key}`" in doc, f"docs/configuration.md lacks {section}.{key}"
    listed = {line.split("`")[1] for line in doc.splitlines() if line.startswith("| `")}
    assert listed == {f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys}
