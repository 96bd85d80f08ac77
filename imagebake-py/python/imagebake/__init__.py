"""imagebake: bake machine images on Triton, Oxide and Outscale, or local disk
images, from Python.

A build is a Packer-style builder block plus provisioners::

    import imagebake

    with imagebake.sim.Triton() as sim:
        build = imagebake.triton(
            **sim.builder_config(),
            source_machine_package="g1.small",
            source_machine_image_filter={"name": "base-64-lts", "most_recent": True},
            image_name="web", image_version="1.0.{{timestamp}}",
            communicator="none",
        )
        artifact = build.run(on_event=print)
        print(artifact.id, artifact.cleanup.is_clean)

or ``imagebake.Build.from_template("web.pkr.hcl", vars={"version": "1.2.0"})``
(a template file or directory evaluated as ``imagebake build`` does; a
Packer JSON template as a dict or JSON text works too).
``imagebake.image_spec("mi-web")`` checks an image spec folder (mibe's
``manifest`` or ``manifest.json``, ``packages``, ``customize``, ``copy/``,
``motd``) and returns its ``image-spec`` provisioner; the build takes the
spec's image name, version and description where its own keys are unset.

``imagebake.oxide_import("out.raw", project=..., image_name=..., image_os=...,
image_version=...)`` imports a local disk image (a ``local_chroot`` build's
file) into an Oxide project as an image, without an instance (the
``oxide-import`` post-processor's keys; ``force=True`` replaces an image of
the same name).

``imagebake.origin_build("images.json", package_json="package.json",
**triton_keys)`` builds an origin image set (triton-origin-image's
images.json) on Triton and exports it to Manta, as ``imagebake origin
build`` does; it returns the export directory, the ``<branch>-latest``
object and each image's Manta paths and manifest.

``run()`` blocks without holding the GIL; ``await build.run_async()`` is the
asyncio variant. Errors are ``ImagebakeError`` subclasses. On Ctrl-C,
``run()`` cancels the build, waits for its cleanup, then raises
KeyboardInterrupt whose ``__cause__`` is the ``BuildCancelled`` (with the
cleanup report); cancelling a ``run_async()`` task does the same with
``asyncio.CancelledError``. Forking while a build runs is unsupported.
"""

from __future__ import annotations

from typing import Any

from . import sim
from ._imagebake import (
    ApiError,
    Artifact,
    Build,
    BuildCancelled,
    CleanupEntry,
    CleanupIncomplete,
    CleanupReport,
    ConfigError,
    Event,
    ImagebakeError,
    OscClient,
    OxideClient,
    ProvisionerError,
    RunningBuild,
    SshError,
    TritonClient,
    __version__,
    builds,
    cleanup,
    image_spec,
    local_chroot,
    osc_chroot,
    origin_build,
    oxide,
    oxide_import,
    triton,
)


def shell(**keys: Any) -> dict[str, Any]:
    """A Packer ``shell`` provisioner block: ``inline=[...]``, ``script=``,
    ``scripts=[...]``, ``environment_vars=["K=v"]``, ``execute_command=``, ..."""
    return {"type": "shell", **keys}


def file(**keys: Any) -> dict[str, Any]:
    """A Packer ``file`` provisioner block: ``source=`` or ``content=``,
    ``destination=``, ``direction="upload"|"download"``."""
    return {"type": "file", **keys}


__all__ = [
    "ApiError",
    "Artifact",
    "Build",
    "BuildCancelled",
    "CleanupEntry",
    "CleanupIncomplete",
    "CleanupReport",
    "ConfigError",
    "Event",
    "ImagebakeError",
    "OscClient",
    "OxideClient",
    "ProvisionerError",
    "RunningBuild",
    "SshError",
    "TritonClient",
    "__version__",
    "builds",
    "cleanup",
    "file",
    "image_spec",
    "local_chroot",
    "origin_build",
    "osc_chroot",
    "oxide",
    "oxide_import",
    "shell",
    "sim",
    "triton",
]
