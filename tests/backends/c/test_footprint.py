"""Flash and RAM of a compiled model, as report.md and model.h state them, checked against compilers.

* Flash is every constant object model.c defines. Rule checked: the sizes ``nm -S`` gives the data
  symbols (types r/R/d/D/b/B) of model.o sum to the reported figure **byte for byte**, for the
  host (LP64) and, when ``arm-none-eabi-gcc`` is installed, for Cortex-M4 (ILP32: ``-mcpu=cortex-m4
  -mthumb -Os``, newlib-nano, ``-ffunction-sections -fdata-sections -Wl,--gc-sections``), where the
  linked image keeps every one of those symbols at the same size and ``arm-none-eabi-size`` counts
  them in text+data. The same at W8A8 and W4A8, whose 4-bit weights are packed two per byte: their
  arrays take half the bytes of W8A8's, the rest of flash is the same.
* The struct layout used for flash equals the host compiler's ``sizeof`` for every kernel struct.
* RAM's stack is the heaviest call chain gcc reports (-fstack-usage, -fcallgraph-info): checked on
  small C sources with a known chain, a dynamic frame and recursion.
* main.c's arena is static storage aligned to 16, not malloc's block.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qcc.backends.c.build import csrc_dir, find_compiler
from qcc.backends.c.footprint import LP64, DataModel, constant_objects, kernel_structs, sizeof
from qcc.backends.c.stack import measure_stack
from qcc.cli import main
from qcc.errors import QccError
from tests.backends.c.symbols import data_symbols, host_pointer_size
from tests.quant.example_model import CALIB, MODEL, TEST

HAVE_CC = shutil.which("cc") is not None or shutil.which("gcc") is not None
ARM_GCC = shutil.which("arm-none-eabi-gcc")
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="needs a C compiler")

SCHEMES = {"w8a8": [], "w4a8": ["--target", "dsp-w4a16", "--recipe", "fast{weights=4 acts=8}"]}
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-Os", "-std=c99", "-ffunction-sections", "-fdata-sections"]


@pytest.fixture(scope="module", params=sorted(SCHEMES))
def compiled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"footprint-{request.param}") / "digits"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out), *SCHEMES[request.param]]) == 0
    return out


def _host_is_gcc() -> bool:
    try:
        return "GCC" in subprocess.run([*find_compiler(), "-v"], capture_output=True, text=True).stderr
    except QccError:
        return False


def _reported(folder: Path) -> dict[str, int]:
    report = (folder / "report.md").read_text()
    header = (folder / "model.h").read_text()
    flash = re.search(r"flash \(constant data\): \*\*(\d+) bytes\*\* with 32-bit pointers .*?, (\d+) bytes with 64-bit", report)
    assert flash is not None
    assert f"FLASH_BYTES_ILP32 {flash[1]}u" in header and f"FLASH_BYTES_LP64 {flash[2]}u" in header
    return {"ILP32": int(flash[1]), "LP64": int(flash[2])}


# ---- flash ---------------------------------------------------------------------------------------


def test_struct_layouts_equal_the_host_compilers_sizeof(tmp_path: Path) -> None:
    structs, _ = kernel_structs()
    prints = "".join(f'    printf("{name} %lu\\n", (unsigned long)sizeof({name}));\n' for name in structs)
    (tmp_path / "sizes.c").write_text(f'#include <stdio.h>\n#include "qcc_kernels.h"\nint main(void)\n{{\n{prints}    return 0;\n}}\n')
    subprocess.run([*find_compiler(), "-I", str(csrc_dir()), "-o", "sizes", "sizes.c"], cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "sizes")], capture_output=True, text=True, check=True).stdout
    host = DataModel("host", host_pointer_size())
    measured = dict((name, int(size)) for name, size in (line.split() for line in out.splitlines()))
    assert len(measured) == len(structs) >= 20
    assert {name: sizeof(name, host) for name in structs} == measured


def test_host_flash_is_the_sum_of_model_cdata_symbols(compiled: Path, tmp_path: Path) -> None:
    if sizeof("pointer", LP64) != host_pointer_size():
        pytest.skip("host is not LP64")
    subprocess.run([*find_compiler(), "-std=c99", "-O2", "-fdata-sections", "-c", "model.c", "-o", str(tmp_path / "model.o")],
                   cwd=compiled, check=True)
    symbols = data_symbols("nm", tmp_path / "model.o")
    flash = constant_objects((compiled / "model.c").read_text())
    assert {o.name: o.nbytes(LP64) for o in flash.objects} == {name.split(".")[0]: size for name, size in symbols.items()}
    assert sum(symbols.values()) == _reported(compiled)["LP64"]
    # model.h's FLASH_BYTES picks the LP64 figure on this host (a negative array size fails to compile)
    (tmp_path / "check.c").write_text(f'#include "model.h"\ntypedef char flash_is_lp64[QCC_DIGITS_MBV2_FLASH_BYTES == {sum(symbols.values())}u ? 1 : -1];\n')
    subprocess.run([*find_compiler(), "-std=c99", "-I", str(compiled), "-c", "check.c", "-o", "check.o"], cwd=tmp_path, check=True)


FIRMWARE = """#include "model.h"
/* Calls both entry points so that --gc-sections keeps everything model.c defines. */
static {in_t} in[{in_n}];
static {out_t} out[{out_n}];
static unsigned char arena[{arena}u + 16u];
int main(void)
{{
    return {prefix}_run(in, out, arena) + {prefix}_run_step(0, in, out, arena);
}}
"""


@pytest.mark.skipif(ARM_GCC is None, reason="needs arm-none-eabi-gcc (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi)")
def test_cortex_m4_flash_equals_arm_none_eabi_nm_byte_for_byte(compiled: Path, tmp_path: Path) -> None:
    reported = _reported(compiled)
    work = tmp_path / "m4"
    shutil.copytree(compiled, work)
    header = (work / "model.h").read_text()
    (work / "firmware.c").write_text(FIRMWARE.format(
        in_t="int8_t", out_t="int8_t", prefix="qcc_digits_mbv2",
        in_n=re.search(r"INPUT0_SIZE (\d+)", header)[1], out_n=re.search(r"OUTPUT0_SIZE (\d+)", header)[1],  # type: ignore[index]
        arena=re.search(r"ARENA_SIZE (\d+)u", header)[1]))  # type: ignore[index]
    subprocess.run([ARM_GCC, *M4_FLAGS, "-c", "model.c", "-o", "model.o"], cwd=work, check=True)  # type: ignore[list-item]
    model_symbols = data_symbols("arm-none-eabi-nm", work / "model.o")
    assert sum(model_symbols.values()) == reported["ILP32"]
    size = subprocess.run(["arm-none-eabi-size", "model.o"], cwd=work, capture_output=True, text=True, check=True).stdout.splitlines()[1].split()
    assert int(size[0]) + int(size[1]) >= reported["ILP32"]  # text + data: the constants and the step functions' code
    kernels = sorted(p.name for p in work.glob("qcc_*.c"))
    subprocess.run([ARM_GCC, *M4_FLAGS, "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", "-o", "firmware.elf",  # type: ignore[list-item]
                    "firmware.c", "model.c", *kernels, "-lm"], cwd=work, check=True, capture_output=True)
    linked = data_symbols("arm-none-eabi-nm", work / "firmware.elf")
    assert {name: linked.get(name) for name in model_symbols} == model_symbols  # none dropped, none resized


@pytest.mark.skipif(ARM_GCC is None, reason="needs arm-none-eabi-gcc")
def test_stack_compiler_measures_the_firmware_build_along_run_kernel_helper(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    firmware = "arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out), "--verify", "0", "--stack-compiler", firmware]) == 0
    sources = {p.name: p.read_text() for p in out.iterdir() if p.suffix in (".c", ".h") and p.name != "main.c"}
    usage = measure_stack(sources, "qcc_digits_mbv2_run", [ARM_GCC], ("-std=c99", "-O3", "-mcpu=cortex-m4", "-mthumb", "-Os"))  # type: ignore[list-item]
    names = [name for name, _ in usage.chain]
    kernel = names[2] if names[1].startswith("model.c:step_") else names[1]  # a step function GCC did not inline
    assert names[0] == "qcc_digits_mbv2_run" and kernel.startswith("qcc_conv") and usage.bounded and "red zone" not in names
    assert usage.bytes == sum(size for _, size in usage.chain) and "arm-none-eabi" in usage.compiler
    assert f"STACK_BYTES {usage.bytes}u /* arm-none-eabi-gcc" in (out / "model.h").read_text()
    assert f"worst-case stack of run() {usage.bytes}" in (out / "report.md").read_text()


def test_a_stack_compiler_that_cannot_run_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("no-such-gcc -Os", "gcc 'unbalanced"):
        assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(tmp_path / "out"), "--stack-compiler", command]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("qcc: error: ") and "\n" not in err
    assert not (tmp_path / "out").exists()


def _weight_bytes(folder: Path) -> int:
    """Bytes of the weight arrays model.c defines (one per conv / fc step)."""
    return sum(o.nbytes(LP64) for o in constant_objects((folder / "model.c").read_text()).objects if "_weight" in o.name)


def test_w4a8_weights_take_half_the_flash_of_w8a8(tmp_path_factory: pytest.TempPathFactory) -> None:
    """4-bit weights are packed two per byte: the weight arrays halve (an odd count rounds up a
    byte), every other constant stays, and the reported flash drops by the bytes saved."""
    weights, flash = {}, {}
    for scheme, extra in SCHEMES.items():
        out = tmp_path_factory.mktemp(f"flash-{scheme}") / "digits"
        assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out), "--verify", "0", *extra]) == 0
        weights[scheme], flash[scheme] = _weight_bytes(out), _reported(out)["ILP32"]
    steps = 13  # conv and fc layers of the example model: each may round up half a byte
    assert weights["w8a8"] // 2 <= weights["w4a8"] <= weights["w8a8"] // 2 + steps
    assert flash["w8a8"] - flash["w4a8"] == weights["w8a8"] - weights["w4a8"]


# ---- stack ---------------------------------------------------------------------------------------

CHAIN_SOURCES = {
    "kernel.c": """#include <string.h>
int leaf(volatile int *p);
extern const char *kernel_name;
int helper(int n)
{
    volatile int band[512];
    int i;
    for (i = 0; i < 512; i++) band[i] = i * n;
    return leaf(band);
}
int kernel(int n)
{
    volatile int small[8];
    small[0] = n;
    return helper(small[0]) + (int)strlen(kernel_name);
}
""",
    "leaf.c": "int leaf(volatile int *p)\n{\n    volatile int t[64];\n    t[0] = p[3];\n    return t[0];\n}\n",
    "model.c": "int kernel(int n);\nint tiny(int n)\n{\n    return n + 1;\n}\nint run(int n)\n{\n    return kernel(n) + tiny(n);\n}\n",
}


def _needs_gcc() -> None:
    if not _host_is_gcc():
        pytest.skip("the stack measurement needs GCC 10 or later (-fcallgraph-info)")


def test_the_stack_is_the_heaviest_chain_of_frames_across_files() -> None:
    _needs_gcc()
    usage = measure_stack(CHAIN_SOURCES, "run", find_compiler(), ("-std=c99", "-O0"))
    names = [name for name, _ in usage.chain]
    assert names[:4] == ["run", "kernel", "helper", "leaf"]  # not tiny: a lighter branch
    frames = dict(usage.chain)
    red_zone = frames.get("red zone", 0)  # x86-64: the leaf's locals may sit below the stack pointer
    assert names[4:] == (["red zone"] if red_zone else [])
    assert frames["helper"] >= 512 * 4 and frames["leaf"] + red_zone >= 64 * 4
    assert usage.bytes == sum(frames.values()) and usage.bounded and "strlen" in usage.external


def test_a_dynamic_frame_makes_the_figure_a_lower_bound_and_recursion_an_error() -> None:
    _needs_gcc()
    vla = {"model.c": "int run(int n)\n{\n    volatile char v[n + 1];\n    v[0] = 1;\n    return v[0];\n}\n"}
    assert not measure_stack(vla, "run", find_compiler(), ("-std=c99", "-O0")).bounded
    recursive = {"model.c": "int run(int n)\n{\n    return n > 0 ? run(n - 1) + 1 : 0;\n}\n"}
    with pytest.raises(QccError, match="recurses through 'run'"):
        measure_stack(recursive, "run", find_compiler(), ("-std=c99", "-O0"))


def test_report_and_header_state_ram_as_arena_plus_io_plus_measured_stack(compiled: Path) -> None:
    _needs_gcc()
    report = (compiled / "report.md").read_text()
    header = (compiled / "model.h").read_text()
    ram = re.search(r"RAM: \*\*(\d+) bytes\*\* = arena (\d+) \+ input/output buffers (\d+) \+ worst-case stack of run\(\) (\d+)", report)
    assert ram is not None
    total, arena, io, stack = (int(g) for g in ram.groups())
    assert total == arena + io + stack and io == 16 * 16 + 10  # int8 1x1x16x16 in, 10 logits out
    assert f"STACK_BYTES {stack}u" in header and f"IO_BYTES {io}u" in header
    assert "qcc_digits_mbv2_run" in report and "-fcallgraph-info" in report
    # the figure follows the kernels: measured again from the folder's sources it is the same
    sources = {p.name: p.read_text() for p in compiled.iterdir() if p.suffix in (".c", ".h") and p.name != "main.c"}
    assert measure_stack(sources, "qcc_digits_mbv2_run", find_compiler(), ("-std=c99", "-O3")).bytes == stack


# ---- main.c --------------------------------------------------------------------------------------

WRAP = """#include <stdint.h>
#include <stdio.h>
#include "model.h"
int __real_qcc_digits_mbv2_run(const int8_t *in, int8_t *out, void *arena);
int __wrap_qcc_digits_mbv2_run(const int8_t *in, int8_t *out, void *arena)
{
    if ((uintptr_t)arena % 16u != 0) {
        fprintf(stderr, "arena %p is not 16-byte aligned\\n", arena);
        return 1;
    }
    return __real_qcc_digits_mbv2_run(in, out, arena);
}
"""


def test_main_c_passes_run_a_16_byte_aligned_static_arena(compiled: Path, tmp_path: Path) -> None:
    main_c = (compiled / "main.c").read_text()
    assert "malloc(QCC_DIGITS_MBV2_ARENA_SIZE" not in main_c  # malloc's blocks are 8-byte aligned on armhf glibc
    assert "static unsigned char arena_storage[QCC_DIGITS_MBV2_ARENA_SIZE + 15u];" in main_c
    assert "% 16u" in main_c
    work = tmp_path / "aligned"
    shutil.copytree(compiled, work)
    (work / "wrap.c").write_text(WRAP)
    sources = sorted(p.name for p in work.glob("*.c"))
    build = subprocess.run([*find_compiler(), "-std=c99", "-O1", "-Wl,--wrap=qcc_digits_mbv2_run", "-o", "model", *sources, "-lm"],
                           cwd=work, capture_output=True, text=True)
    if build.returncode != 0:
        pytest.skip(f"the linker has no --wrap: {build.stderr.strip()[:200]}")
    x = np.load(TEST)["input"][:1].astype(np.float32)
    x.tofile(work / "in.f32")
    run = subprocess.run([str(work / "model"), "-f", "in.f32", "out.f32"], cwd=work, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
