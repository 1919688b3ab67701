"""Peak multiply-accumulate rates of one core: int8 ``vpdpbusd`` (VNNI) and fp32 FMA.

    python benchmarks/peak_mac.py [--seconds 0.5] [--repeats 3]

The latencies in docs/benchmarks.md are only meaningful next to what the core can do at best, so
this builds a small C program with the system compiler (``-O2 -march=native``) that keeps many
independent accumulators busy (no dependent chain limits the rate: each instruction's result is
needed only after as many others as there are accumulators), one thread, and prints GMAC/s for

* ``vpdpbusd`` on 512-bit vectors (AVX-512 VNNI, 64 u8 x s8 MACs per instruction) and on 256-bit
  vectors (AVX-VNNI or AVX-512 VL, 32 MACs),
* ``vfmadd`` fp32 on 512-bit and 256-bit vectors (16 and 8 MACs).

Time is the thread's CPU time (a shared machine's other processes do not count against it).
A CPU without VNNI, or a compiler without the intrinsics, is reported in one line and skipped.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ACCUMULATORS = 12  # independent chains: more than latency x throughput of any of the four units

# One timing loop per instruction form, the accumulators written out as separate variables (an
# array indexed in a loop can stay in memory, and then store-to-load latency is what is timed).
# OP is the accumulating instruction on accumulator @ with the loop-invariant operands a and b
# (opaque to the compiler: read through volatile, and touched by an empty asm every round).
_KERNEL = """
static double run_NAME(long iters)
{
    TYPE a = SET_A, b = SET_B;
    DECLS
    struct timespec t0, t1;
    long n;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (n = 0; n < iters; n++) {
        STEPS
        __asm__ volatile("" : "+v"(a));
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    COMBINES
    sink_NAME = acc0;
    return (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}
"""

# name, guard macro, vector type, set a, set b, start of accumulator # (each different, or the
# compiler merges them), accumulate into @, combine @ into acc0, MACs per instruction
_FORMS = [
    ("dpbusd512", "defined(__AVX512VNNI__) && defined(__AVX512BW__)", "__m512i", "_mm512_set1_epi8((char)vseed)",
     "_mm512_set1_epi8((char)(vseed + 1))", "_mm512_set1_epi32(vseed + #)", "_mm512_dpbusd_epi32(@, a, b)",
     "_mm512_add_epi32(acc0, @)", 64),
    ("dpbusd256", "defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))", "__m256i",
     "_mm256_set1_epi8((char)vseed)", "_mm256_set1_epi8((char)(vseed + 1))", "_mm256_set1_epi32(vseed + #)", "DPBUSD256(@, a, b)",
     "_mm256_add_epi32(acc0, @)", 32),
    ("fma512", "defined(__AVX512F__)", "__m512", "_mm512_set1_ps((float)vseed)", "_mm512_set1_ps(1.0f + 1e-7f * vseed)",
     "_mm512_set1_ps((float)(vseed + #))", "_mm512_fmadd_ps(a, b, @)", "_mm512_add_ps(acc0, @)", 16),
    ("fma256", "defined(__FMA__)", "__m256", "_mm256_set1_ps((float)vseed)", "_mm256_set1_ps(1.0f + 1e-7f * vseed)",
     "_mm256_set1_ps((float)(vseed + #))", "_mm256_fmadd_ps(a, b, @)", "_mm256_add_ps(acc0, @)", 8),
]

_PRELUDE = """
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__AVXVNNI__)
#define DPBUSD256(c, a, b) _mm256_dpbusd_avx_epi32(c, a, b)
#else
#define DPBUSD256(c, a, b) _mm256_dpbusd_epi32(c, a, b)
#endif
static volatile int vseed = 3;
"""


def program_source() -> str:
    """The C text: one guarded timing function per form and a main that calibrates the iteration
    count to about ``argv[1]`` seconds and prints ``name GMAC/s`` lines."""
    parts = [_PRELUDE]
    calls = []
    for name, guard, vtype, set_a, set_b, zero, op, combine, macs in _FORMS:
        accs = [f"acc{i}" for i in range(ACCUMULATORS)]
        body = _KERNEL
        for key, value in (("NAME", name), ("TYPE", vtype), ("SET_A", set_a), ("SET_B", set_b),
                           ("DECLS", " ".join(f"{vtype} {acc} = {zero.replace('#', str(i))};" for i, acc in enumerate(accs))),
                           ("STEPS", " ".join(f"{acc} = {op.replace('@', acc)};" for acc in accs)),
                           ("COMBINES", " ".join(f"acc0 = {combine.replace('@', acc)};" for acc in accs[1:]))):
            body = body.replace(key, value)
        parts.append(f"#if {guard}\nstatic volatile {vtype} sink_{name};\n{body}#endif\n")
        calls.append(f"""#if {guard}
    {{
        long iters = 1000;
        double t = run_{name}(iters);
        while (t < seconds) {{
            iters *= 2;
            t = run_{name}(iters);
        }}
        printf("{name} %.2f\\n", (double)iters * {ACCUMULATORS} * {macs} / t * 1e-9);
    }}
#else
    printf("{name} unsupported\\n");
#endif""")
    parts.append("int main(int argc, char **argv)\n{\n    const double seconds = argc > 1 ? atof(argv[1]) : 0.5;\n"
                 + "\n".join(calls) + "\n    return 0;\n}\n")
    return "".join(parts)


def measure(seconds: float, repeats: int) -> dict[str, float | None]:
    """Build and run the program ``repeats`` times; the best GMAC/s per form (a shared machine only
    ever slows a run down), None where this CPU or compiler lacks the form."""
    with tempfile.TemporaryDirectory(prefix="qcc-peak-") as tmp:
        src, exe = Path(tmp) / "peak.c", Path(tmp) / "peak"
        src.write_text(program_source())
        subprocess.run(["cc", "-std=c99", "-O2", "-march=native", "-o", str(exe), str(src)], check=True)
        outs = [subprocess.run([str(exe), str(seconds)], check=True, capture_output=True, text=True).stdout for _ in range(repeats)]
    rates: dict[str, float | None] = {}
    for line in (line for out in outs for line in out.splitlines()):
        name, value = line.split()
        rate = None if value == "unsupported" else float(value)
        best = rates.get(name)
        rates[name] = rate if best is None or (rate is not None and rate > best) else best
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="timed length of each measurement")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the whole program; the best rate counts")
    args = parser.parse_args()
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if not re.search(r"\b(avx512_vnni|avx_vnni)\b", flags):
        print("peak_mac: this CPU has no VNNI (avx512_vnni / avx_vnni); nothing to measure")
        return 0
    rates = measure(args.seconds, args.repeats)
    print(f"one thread, {ACCUMULATORS} independent accumulators, GMAC/s:")
    for name, rate in rates.items():
        print(f"  {name:10s} {'not available' if rate is None else f'{rate:8.1f}'}")
    int8, fp32 = rates.get("dpbusd512") or rates.get("dpbusd256"), rates.get("fma512") or rates.get("fma256")
    if int8 and fp32:
        print(f"int8 / fp32 peak: {int8 / fp32:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
