from harness.guest.numa import parse_view

VIEW = """block_size 8000000
node 0 cpus 0
node 0 memtotal_kb 989184
node 0 block 0
node 0 block 1
node 1 cpus
node 1 memtotal_kb 1030144
node 1 block 2
node 1 block 3
iomem 01000000-0225ffff : Kernel code
iomem 02400000-02ffffff : Kernel rodata
"""


def test_parse_view():
    nodes = parse_view(VIEW)
    assert sorted(nodes) == [0, 1]
    assert nodes[0].cpus == [0] and nodes[1].cpus == []
    assert nodes[0].memtotal == 989184 * 1024
    assert nodes[0].kernel_image == 0x1260000 + 0xc00000
    assert nodes[1].kernel_image == 0
