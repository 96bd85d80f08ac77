"""``imagebake.image_spec(path)``: a spec folder checked when it is named,
then baked as a build's provisioner on the Outscale simulator (osc-chroot,
the seed disk's apt-get stand-in); the OMI takes the spec's name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import imagebake
from conftest import Recorder, needs_root


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)


def spec(root: Path) -> Path:
    d = root / "mi-web"
    write(d, "manifest", '# mi-web\nname="web-1.2.3"\nbase="debian-12"\norganization="Example"\n'
          'brand="Web"\ndescription="A \\"web\\" server"\nhomepage="https://example.com/web"\n')
    write(d, "packages", "# web\nnginx\ncurl\n")
    write(d, "customize", '#!/bin/bash\nset -o errexit\necho "customized by $(id -u)" > /etc/customized\n',
          0o755)
    write(d, "motd", "%brand% %name% %version%\n")
    write(d, "copy/opt/app/run.sh", "#!/bin/sh\necho run\n", 0o750)
    return d


def test_image_spec_is_a_provisioner_dict_of_the_checked_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = spec(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert imagebake.image_spec("mi-web") == {"type": "image-spec", "path": str(d)}
    assert imagebake.image_spec(d) == {"type": "image-spec", "path": str(d)}


def test_a_bad_spec_is_a_config_error_naming_file_and_line(tmp_path: Path) -> None:
    d = spec(tmp_path)
    write(d, "manifest", 'name="web-1.0.0"\nbase="debian-12"\nbrand=$(hostname)\n')
    with pytest.raises(imagebake.ConfigError, match=r"manifest:3"):
        imagebake.image_spec(d)
    with pytest.raises(imagebake.ConfigError, match=r"no-such-spec"):
        imagebake.image_spec(tmp_path / "no-such-spec")


@needs_root
def test_image_spec_bakes_on_osc_chroot(tmp_path: Path) -> None:
    d = spec(tmp_path)
    with imagebake.sim.Osc(delay_ms=5) as sim:
        block: dict[str, Any] = {
            **sim.builder_config(),
            "device_lock_path": str(tmp_path / "device.lock"),
            "mount_path": str(tmp_path / "mnt" / "{{.Device}}"),
            "mount_partition": "0",
            "source_omi_filter": {"filters": {"image-name": "Debian-12-*"}, "owners": ["Outscale"],
                                  "most_recent": True},
            "poll_cap": "20ms",
        }
        if not os.path.exists("/etc/resolv.conf"):
            block["copy_files"] = []
        rec = Recorder()
        art = imagebake.osc_chroot(
            provisioners=[
                imagebake.image_spec(d),
                imagebake.shell(inline=[
                    "ls /var/lib/imagebake-sim/packages",
                    "stat -c '%a %n' /opt/app/run.sh",
                    "cat /etc/motd /etc/customized",
                ]),
            ],
            **block,
        ).run(on_event=rec)
        lines = rec.lines()
        for want in ["nginx-1.25.4", "curl-8.6.0", "750 /opt/app/run.sh", "Web web 1.2.3",
                     "customized by 0"]:
            assert want in lines, (want, lines)
        assert art.name == "web-1.2.3" and art.id and art.cleanup.is_clean
        inv = sim.inventory()
        assert inv["volumes"] == [] and inv["links"] == [] and inv["loop_devices"] == []
        assert inv["images"] == [art.id]
