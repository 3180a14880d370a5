from harness.image import PARTITION_OFFSET, _write_mbr, disk_signature


def test_mbr_has_one_linux_partition(tmp_path):
    disk = tmp_path / "d.img"
    _write_mbr(disk, 64 << 20, 0x1234ABCD)
    data = disk.read_bytes()[:512]
    assert data[510:] == b"\x55\xaa" and data[0x1BE + 4] == 0x83
    assert int.from_bytes(data[0x1BE + 8:0x1BE + 12], "little") * 512 == PARTITION_OFFSET
    assert int.from_bytes(data[0x1B8:0x1BC], "little") == 0x1234ABCD
    assert disk.stat().st_size == PARTITION_OFFSET + (64 << 20)


def test_disk_signature_never_zero():
    assert disk_signature("00000000ffff") == 1
    assert disk_signature("deadbeef00") == 0xDEADBEEF


def recipe(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text("suite: bookworm\nmirror: http://deb.debian.org/debian\n" + text)
    return path


def test_recipe_name_and_size_are_checked(tmp_path):
    import pytest

    from harness.errors import InputError
    from harness.image import load_recipe
    assert load_recipe(recipe(tmp_path, "name: bookworm\nsize: 2G\n"))["size_bytes"] == 2 << 30
    for text, words in (("name: ../../etc\n", "name: '../../etc' is not a name"),
                        ("name: b\nsize: 1M\n", "size: 1M is too small"),
                        ("name: b\nsize: 3T\n", "size: 3T is more than the 1024G"),
                        ("name: b\nsize: -1G\n", "size: -1G is negative")):
        with pytest.raises(InputError, match=words):
            load_recipe(recipe(tmp_path, text))


def test_recipe_pip_section_is_checked(tmp_path):
    import pytest

    from harness.errors import InputError
    from harness.image import IMAGES_DIR, load_recipe
    assert load_recipe(IMAGES_DIR / "selftests" / "recipe.yaml")["pip"]["packages"] == \
        ["drgn==0.3.0"]
    for text, words in (("pip: drgn\n", "pip: must be a mapping"),
                        ("pip: {python: '3.11', packages: [drgn]}\n", "pip.packages: must be"),
                        ("pip: {python: 3.11, packages: [drgn==1]}\n", "pip.python: is required"),
                        ("pip: {python: '3.11', packages: [a==1], index: x}\n",
                         "pip.index: unknown key")):
        with pytest.raises(InputError, match=words):
            load_recipe(recipe(tmp_path, "name: b\n" + text))
