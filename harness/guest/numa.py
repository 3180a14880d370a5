"""The guest's own view of its NUMA layout, read from sysfs and /proc/iomem."""

from dataclasses import dataclass, field
from typing import Dict, List

from harness.topology import parse_cpu_list

VIEW_SCRIPT = r"""
echo "block_size $(cat /sys/devices/system/memory/block_size_bytes)"
for n in /sys/devices/system/node/node[0-9]*; do
    id=${n##*node}
    echo "node $id cpus $(cat "$n/cpulist")"
    echo "node $id memtotal_kb $(awk '/MemTotal/ {print $4}' "$n/meminfo")"
    for m in "$n"/memory[0-9]*; do [ -e "$m" ] && echo "node $id block ${m##*memory}"; done
done
grep -E ': Kernel (code|rodata|data|bss)$' /proc/iomem | sed 's/^ */iomem /'
"""


@dataclass
class NodeView:
    id: int
    cpus: List[int] = field(default_factory=list)
    memtotal: int = 0
    blocks: List[int] = field(default_factory=list)
    kernel_image: int = 0


def parse_view(text: str) -> Dict[int, NodeView]:
    nodes: Dict[int, NodeView] = {}
    block_size = 0
    kernel_ranges = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["block_size"]:
            block_size = int(words[1], 16)
        elif words[:1] == ["node"] and len(words) >= 3:
            _node_line(nodes.setdefault(int(words[1]), NodeView(int(words[1]))), words[2:])
        elif words[:1] == ["iomem"]:
            start, end = words[1].split("-")
            kernel_ranges.append((int(start, 16), int(end, 16) + 1))
    for node in nodes.values():
        node.kernel_image = sum(end - start for start, end in kernel_ranges
                                if any(b * block_size <= start < (b + 1) * block_size
                                       for b in node.blocks))
    return nodes


def _node_line(node: NodeView, words: List[str]) -> None:
    key, value = words[0], " ".join(words[1:])
    if key == "cpus":
        node.cpus = parse_cpu_list(value, "guest cpulist")
    elif key == "memtotal_kb":
        node.memtotal = int(value) * 1024
    elif key == "block":
        node.blocks.append(int(value))
