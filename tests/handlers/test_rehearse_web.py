"""The deploy rehearsal of a province that turns the web console off (WebConsole=Disabled): the
pages' bucket, CloudFront and their outputs are not created and are listed as such, and nothing
else changes (the rehearsal with the console on is tests/handlers/test_rehearse.py's)."""

from __future__ import annotations

from pathlib import Path

from infra.ops.environments import DEFAULT_CONFIG
from infra.rehearsal.rehearsal import rehearse


def test_a_province_without_the_console_rehearses_cleanly_without_its_resources(tmp_path: Path) -> None:
    # GIVEN Henan's environment with the console off (and so no domain or certificate)
    config = tmp_path / "samconfig.toml"
    config.write_text(
        DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
            "WebDomainName=jkm.henan.example.gov.cn WebCertificateId=ASCAEXAMPLE410000", "WebConsole=Disabled"
        ),
        encoding="utf-8",
    )
    assert "WebConsole=Disabled" in config.read_text(encoding="utf-8")
    # WHEN it is rehearsed
    report = rehearse("henan", config=config)
    # THEN every check passes and the web resources are named as not created
    assert report.ok, report.render()
    skipped = [names for kind, names in report.outside.items() if "its condition is false" in kind]
    assert {"WebBucket", "WebDistribution", "WebOriginAccessIdentity"} <= {
        n for names in skipped for n in names
    }
    assert not report.passed("web")
    assert not [c for c in report.checks if c.subject.startswith("output Web")]
