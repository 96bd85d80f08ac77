"""What is installed: the wheel (not the source tree), its typing marker and
its exception hierarchy."""

from pathlib import Path

import imagebake


def test_the_installed_wheel_is_what_is_tested() -> None:
    here = Path(imagebake.__file__).resolve()
    assert "site-packages" in here.parts, here
    assert (here.parent / "py.typed").exists()
    assert (here.parent / "_imagebake.pyi").exists()
    assert imagebake.__version__ == "0.1.0"


def test_every_exception_is_an_imagebake_error() -> None:
    for cls in [imagebake.ApiError, imagebake.SshError, imagebake.ProvisionerError,
                imagebake.ConfigError, imagebake.BuildCancelled, imagebake.CleanupIncomplete]:
        assert issubclass(cls, imagebake.ImagebakeError), cls
        assert not issubclass(cls, RuntimeError), cls
    assert issubclass(imagebake.ImagebakeError, Exception)


def test_provisioner_helpers_make_packer_blocks() -> None:
    assert imagebake.shell(inline=["true"]) == {"type": "shell", "inline": ["true"]}
    assert imagebake.file(content="x", destination="/x") == {
        "type": "file", "content": "x", "destination": "/x"}
