"""Peak memory of the process doing the work, read from Linux's /proc (issue #14).

``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` — and even a child's own ``RUSAGE_SELF`` — is
wrong for a benchmark: across ``fork``/``exec`` the child inherits the parent's high-water mark, so a
child forked from a 200 MiB parent reports "204 MiB before = 204 MiB after". ``VmHWM`` in
``/proc/<pid>/status`` is the peak resident set of that process, and writing ``5`` to
``/proc/<pid>/clear_refs`` resets it to the current RSS, so a phase's peak is its own.
"""

from __future__ import annotations

import os


def _status_kib(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/{pid}/status")


def rss_mib(pid: int | str = "self") -> float:
    """Current resident set (VmRSS)."""
    return _status_kib("VmRSS", pid) / 1024


def peak_mib(pid: int | str = "self") -> float:
    """Peak resident set since start or the last :func:`reset_peak` (VmHWM)."""
    return _status_kib("VmHWM", pid) / 1024


def reset_peak(pid: int | str = "self") -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False where the kernel refuses."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


if __name__ == "__main__":  # a quick check: allocate 100 MiB and see the peak move
    reset_peak()
    before = peak_mib()
    block = bytearray(100 * 2**20)
    block[::4096] = b"x" * len(block[::4096])
    print(f"pid {os.getpid()}: peak {before:.1f} → {peak_mib():.1f} MiB")
