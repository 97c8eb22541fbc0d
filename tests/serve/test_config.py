"""The node config directory: what loads, and that every mistake is a ConfigError naming
the file and the field (garbage included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.config import (
    INTERVALS,
    Intervals,
    add_partner,
    init_node_dir,
    load_node_config,
    parse_listen,
)
from mista.errors import ConfigError
from mista.labels import Level


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("config")
    ind = root / "ind"
    usa = root / "usa"
    init_node_dir(ind, "IND", port=8443)
    init_node_dir(usa, "USA", port=9443)
    return ind, usa


def test_a_new_node_dir_loads_with_defaults(nodes: tuple[Path, Path]) -> None:
    ind, _ = nodes
    config = load_node_config(ind)
    assert (config.nation, config.host, config.port) == ("IND", "127.0.0.1", 8443)
    assert config.store == ind / "store.duckdb"
    assert config.intervals == Intervals()
    assert config.partners == ()
    assert config.sources == ()
    for setting in INTERVALS:
        assert getattr(config.intervals, setting.name) == setting.default
        assert f"# {setting.name} = " in (ind / "node.toml").read_text()


def test_init_refuses_to_overwrite(nodes: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        init_node_dir(nodes[0], "IND")


def test_partners_and_sources_load(nodes: tuple[Path, Path], tmp_path: Path) -> None:
    _, usa = nodes
    copy = tmp_path / "ind"
    copy.mkdir()
    (copy / "node.toml").write_text(
        'nation = "IND"\nlisten = "127.0.0.1:0"\n[groups]\nQUAD = ["IND", "USA", "JPN", "AUS"]\n'
        "[intervals]\nscan_s = 0.2\nbatch_max_items = 10\n"
    )
    (copy / "sources").mkdir()
    (copy / "sources" / "shore.toml").write_text(
        'url = "spool:incoming"\nkind = "ais-terrestrial"\n'
        '[label]\nlevel = "RESTRICTED"\nreleasable_to = ["USA"]\ncategories = ["white-shipping"]\n'
    )
    (copy / "sources" / "feed.toml").write_text('url = "tcp://127.0.0.1:10110"\nname = "feed"\n')
    (copy / "sources" / "quad.toml").write_text(
        'url = "quad.nmea"\nlabel = "CONFIDENTIAL//REL TO QUAD//white-shipping//ORCON"\n'
    )
    public_key = (usa / "keys" / "signing.pub").read_text().strip()
    add_partner(
        copy,
        "USA",
        endpoint="https://127.0.0.1:9443/",
        certificate=usa / "keys" / "tls.crt",
        public_key=public_key,
    )
    config = load_node_config(copy)
    assert config.port == 0
    assert config.groups == {"QUAD": frozenset({"IND", "USA", "JPN", "AUS"})}
    assert config.intervals.scan_s == 0.2
    assert config.intervals.batch_max_items == 10
    (partner,) = config.partners
    assert (partner.nation, partner.endpoint, partner.public_key) == (
        "USA",
        "https://127.0.0.1:9443",
        public_key,
    )
    assert partner.certificate.read_bytes() == (usa / "keys" / "tls.crt").read_bytes()
    feed, quad, shore = config.sources
    assert quad.url == str(copy / "sources" / "quad.nmea")
    assert quad.config.label.releasable_to == {"IND", "USA", "JPN", "AUS"}
    assert quad.config.label.level is Level.CONFIDENTIAL
    assert quad.config.label.orcon
    assert (feed.name, feed.url, feed.spool_dir) == ("feed", "tcp://127.0.0.1:10110", None)
    assert shore.name == "shore"
    assert shore.spool_dir == copy / "sources" / "incoming"
    assert shore.config.label.level is Level.RESTRICTED
    assert shore.config.label.releasable_to == {"IND", "USA"}
    # A partner's certificate must name the partner.
    with pytest.raises(ConfigError, match="certificate of USA, not of JPN"):
        add_partner(
            copy,
            "JPN",
            endpoint="https://127.0.0.1:9443",
            certificate=usa / "keys" / "tls.crt",
            public_key=public_key,
        )


NODE = 'nation = "IND"\nlisten = "127.0.0.1:8443"\n'


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        ("", "nation", "alpha-3"),
        ('nation = "India"\nlisten = "127.0.0.1:1"\n', "nation", "alpha-3"),
        ('nation = "IND"\n', "listen", "non-empty string"),
        ('nation = "IND"\nlisten = "8443"\n', "listen", "HOST:PORT"),
        ('nation = "IND"\nlisten = "127.0.0.1:99999"\n', "listen", "HOST:PORT"),
        (NODE + "colour = 1\n", "colour", "known:"),
        (NODE + "store = 5\n", "store", "non-empty string"),
        (NODE + 'audit = ""\n', "audit", "non-empty string"),
        (NODE + "[intervals]\nscan_s = -1\n", "intervals.scan_s", "positive number"),
        (NODE + "[intervals]\nscan_s = true\n", "intervals.scan_s", "positive number"),
        (NODE + "[intervals]\nbatch_max_items = 1.5\n", "batch_max_items", "whole number"),
        (NODE + "[intervals]\nscan_ms = 5\n", "intervals.scan_ms", "known:"),
        (NODE + "intervals = 5\n", "[intervals]", "table"),
        (NODE + '[groups]\nind = ["IND"]\n', "[groups]", "group name"),
        ("nation = [\n", "not valid TOML", "fix the syntax"),
    ],
)
def test_node_toml_mistakes_name_the_file_field_and_fix(
    tmp_path: Path, text: str, where: str, fix: str
) -> None:
    (tmp_path / "node.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_node_config(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "node.toml") in message
    assert where in message
    assert fix in message


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("USA.toml", 'endpoint = "http://127.0.0.1:1"\n', "https://"),
        ("USA.toml", 'endpoint = "https://127.0.0.1:1"\ncertificate = "none.crt"\n', "no such"),
        ("USA.toml", 'nation = "JPN"\n', "does not match the file name"),
        ("IND.toml", 'endpoint = "https://127.0.0.1:1"\n', "own nation"),
        ("usa.toml", "", "alpha-3"),
        ("USA.toml", "port = 1\n", "unknown fields"),
    ],
)
def test_partner_mistakes_name_the_file(tmp_path: Path, name: str, text: str, where: str) -> None:
    (tmp_path / "node.toml").write_text(NODE)
    (tmp_path / "partners").mkdir()
    (tmp_path / "partners" / name).write_text(text)
    with pytest.raises(ConfigError, match=where) as caught:
        load_node_config(tmp_path)
    assert str(tmp_path / "partners" / name) in str(caught.value)


def test_a_bad_public_key_is_named(nodes: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text(NODE)
    (tmp_path / "partners").mkdir()
    (tmp_path / "partners" / "USA.crt").write_bytes((nodes[1] / "keys" / "tls.crt").read_bytes())
    (tmp_path / "partners" / "USA.toml").write_text(
        'endpoint = "https://127.0.0.1:1"\ncertificate = "USA.crt"\npublic_key = "ed25519:AAAA"\n'
    )
    with pytest.raises(ConfigError, match="public_key"):
        load_node_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "url is missing"),
        ('url = "ftp://host/x"\n', "unknown scheme"),
        ('url = "spool:"\n', "names no directory"),
        ('url = "a.nmea"\ncolour = "red"\n', "unknown keys"),
        ('url = "a.nmea"\n[label]\nlevel = "TOPSECRET"\n', "TOPSECRET"),
        ('url = "a.nmea"\n[label]\nreleasable_to = "USA"\n', "list of strings"),
    ],
)
def test_source_mistakes_name_the_file(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "node.toml").write_text(NODE)
    (tmp_path / "sources").mkdir()
    path = tmp_path / "sources" / "shore.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where) as caught:
        load_node_config(tmp_path)
    assert str(path) in str(caught.value)
    assert "mista-source-" not in str(caught.value), "the temporary file is never named"


def test_a_missing_directory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mista node init"):
        load_node_config(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="mista node init"):
        load_node_config(tmp_path)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    node=st.text(max_size=300),
    source=st.text(max_size=300),
    partner=st.binary(max_size=300),
)
def test_garbage_config_files_are_config_errors(
    tmp_path: Path, node: str, source: str, partner: bytes
) -> None:
    (tmp_path / "sources").mkdir(exist_ok=True)
    (tmp_path / "partners").mkdir(exist_ok=True)
    for stale in (tmp_path / "sources").iterdir():
        stale.unlink()
    (tmp_path / "node.toml").write_text(NODE + node, errors="surrogatepass")
    (tmp_path / "sources" / "s.toml").write_text(source, errors="surrogatepass")
    (tmp_path / "partners" / "USA.toml").write_bytes(partner)
    with pytest.raises(ConfigError):
        load_node_config(tmp_path)


@given(st.text(max_size=80))
def test_garbage_listen_addresses_are_config_errors_or_addresses(text: str) -> None:
    try:
        host, port = parse_listen(text)
    except ConfigError:
        return  # any other exception fails the test
    assert host
    assert 0 <= port <= 65535
    written_host, _, written_port = text.strip().rpartition(":")
    assert written_host in (host, f"[{host}]")
    assert int(written_port) == port


def test_every_interval_is_documented_with_its_default() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text()
    for setting in INTERVALS:
        assert f"| `{setting.name}` | {setting.default:g} |" in page, setting.name
    assert {s.name for s in INTERVALS} == set(Intervals.__dataclass_fields__)


_SCALARS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.text(max_size=20)
)
_VALUES = _SCALARS | st.lists(_SCALARS, max_size=3) | st.dictionaries(st.text(max_size=8), _SCALARS)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["nation", "listen", "store", "audit", "groups", "intervals", "x"]),
        _VALUES,
    )
)
def test_hostile_values_in_node_toml_load_or_are_config_errors(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    text = "".join(f"{key} = {_toml(value)}\n" for key, value in fields.items())
    (tmp_path / "node.toml").write_text(text)
    try:
        config = load_node_config(tmp_path)
    except ConfigError:
        return  # anything else (TypeError, ValueError, ...) fails the test
    assert config.nation == fields["nation"]


def test_api_table_loads(tmp_path: Path) -> None:
    init_node_dir(tmp_path / "n", "IND", port=0, api_port=8080)
    config = load_node_config(tmp_path / "n")
    assert (config.api.host, config.api.port) == ("127.0.0.1", 8080)
    assert config.api.cot is None
    text = (tmp_path / "n" / "node.toml").read_text()
    text = text.replace("# cot = ", "cot = ").replace("# cot_user = ", "cot_user = ")
    (tmp_path / "n" / "node.toml").write_text(text)
    config = load_node_config(tmp_path / "n")
    assert (config.api.cot, config.api.cot_user) == ("udp://127.0.0.1:6969", "watch")


def test_without_api_port_the_api_is_off(nodes: tuple[Path, Path]) -> None:
    config = load_node_config(nodes[0])
    assert (config.api.host, config.api.port, config.api.cot) == (None, None, None)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('listen = "nowhere"', "api.listen"),
        ('cot = "http://127.0.0.1:6969"\ncot_user = "w"', "udp://HOST:PORT or tcp://HOST:PORT"),
        ('cot = "udp://127.0.0.1"\ncot_user = "w"', "udp://HOST:PORT"),
        ('cot = "udp://127.0.0.1:6969"', "cot_user"),
        ('cot_user = "w"', "api.cot"),
        ("port = 1", "unknown fields"),
        ("listen = 5", "non-empty string"),
    ],
)
def test_api_table_mistakes_name_the_field(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "node.toml").write_text(
        f'nation = "IND"\nlisten = "127.0.0.1:0"\n[api]\n{table}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=message):
        load_node_config(tmp_path)
