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
