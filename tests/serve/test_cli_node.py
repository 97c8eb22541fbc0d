"""The node commands as a user types them: node init, partners add and list, and serve
refusing a directory it cannot use (exit 2, one line saying what to do)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mista.cli import main


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_node_init_then_partners_add_and_list(tmp_path: Path) -> None:
    ind, usa = str(tmp_path / "ind"), str(tmp_path / "usa")
    code, out = _run("node", "init", ind, "--nation", "IND", "--port", "8443")
    assert code == 0, out
    assert "node IND" in out
    assert "public key  ed25519:" in out
    for name in ("node.toml", "keys/tls.crt", "agreements", "partners", "sources"):
        assert (tmp_path / "ind" / name).exists(), name
    assert _run("node", "init", usa, "--nation", "USA", "--port", "9443")[0] == 0
    public_key = (tmp_path / "usa" / "keys" / "signing.pub").read_text().strip()
    certificate = str(tmp_path / "usa" / "keys" / "tls.crt")

    code, out = _run(
        "partners", "add", ind, "--nation", "USA", "--endpoint", "https://127.0.0.1:9443",
        "--certificate", certificate, "--public-key", public_key,
    )  # fmt: skip
    assert code == 0, out
    assert "partner USA at https://127.0.0.1:9443 pinned" in out
    code, out = _run("partners", "list", ind)
    assert code == 0, out
    assert out.startswith("USA\thttps://127.0.0.1:9443\tsha256:")

    # Pinning it again needs --force; pinning another nation's certificate is refused.
    code, out = _run(
        "partners", "add", ind, "--nation", "USA", "--endpoint", "https://127.0.0.1:9443",
        "--certificate", certificate, "--public-key", public_key,
    )  # fmt: skip
    assert code == 2
    assert "--force" in out
    code, out = _run(
        "partners", "add", ind, "--nation", "JPN", "--endpoint", "https://127.0.0.1:9444",
        "--certificate", certificate, "--public-key", public_key,
    )  # fmt: skip
    assert code == 2
    assert "certificate of USA, not of JPN" in out
    assert not (tmp_path / "ind" / "partners" / "JPN.toml").exists()


def test_serve_refuses_a_directory_it_cannot_use(tmp_path: Path) -> None:
    code, out = _run("serve", str(tmp_path / "nowhere"))
    assert code == 2
    assert out.count("\n") == 1
    assert "mista node init" in out
    (tmp_path / "node.toml").write_text('nation = "IND"\nlisten = "127.0.0.1:8443"\n')
    code, out = _run("serve", str(tmp_path))
    assert code == 2
    assert "mista keys init" in out
